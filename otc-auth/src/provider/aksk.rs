//! AK/SK authentication: no token, every request is signed (gophertelekomcloud's `v3AKSKAuth` in
//! `openstack/client.go`, <https://github.com/opentelekomcloud/gophertelekomcloud>; the signature per the API Request Signing Guide, <https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-002.html>).
//!
//! The project id is resolved once with a signed `GET {auth_url}/projects?name=`, the catalog once
//! with a signed `GET {auth_url}/auth/catalog`. Signed headers are `host`, `x-sdk-date`, plus
//! `content-type` when the request has one and `x-project-id` when the project is known (we sign
//! `X-Project-Id` rather than adding it afterwards, as the CTS regression vector does; both are
//! accepted by a verifier that follows SignedHeaders). `X-Security-Token` is added after signing,
//! as gophertelekomcloud does.
//!
//! Requests are signed in the configured form (the OTC SDK's by default); after a gateway signature
//! refusal the other form is tried once ([`super::form`]), for the IAM calls here and, through
//! [`crate::RequestAuthorizer::refused`], for the service clients' calls.

use std::sync::Arc;

use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use super::form::{is_credential_failure, FormChoice};
use super::transport::{check, iam_url, json, send, Reply};
use crate::authorizer::sensitive_value;
use crate::sign::{sign, SignableRequest, SignatureForm};
use crate::{Catalog, Clock, CloudConfig, Error, Secret};

/// The `X-Project-Id` header.
pub(crate) const X_PROJECT_ID: &str = "x-project-id";
/// The `X-Security-Token` header.
pub(crate) const X_SECURITY_TOKEN: &str = "x-security-token";

/// A project as resolved for AK/SK calls.
#[derive(Debug, Clone)]
pub(crate) struct Project {
    pub id: String,
    pub domain_id: Option<String>,
}

#[derive(Debug)]
pub(crate) struct AkSkSession {
    http: reqwest::Client,
    auth_url: Url,
    access_key: String,
    secret_key: Secret,
    security_token: Option<Secret>,
    clock: Arc<dyn Clock>,
    pub(crate) forms: FormChoice,
    project_name: Option<String>,
    configured: Option<Project>,
    project: Mutex<Option<Project>>,
    catalog: Mutex<Option<Arc<Catalog>>>,
}

#[derive(Deserialize)]
struct ProjectList {
    #[serde(default)]
    projects: Vec<ProjectEntry>,
}

#[derive(Deserialize)]
struct ProjectEntry {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    domain_id: Option<String>,
}

#[derive(Deserialize)]
struct CatalogBody {
    catalog: Catalog,
}

impl AkSkSession {
    pub(crate) fn new(
        config: &CloudConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        access_key: String,
        secret_key: Secret,
        security_token: Option<Secret>,
    ) -> Self {
        Self {
            http,
            auth_url: config.auth_url.clone(),
            access_key,
            secret_key,
            security_token,
            clock,
            forms: FormChoice::new(config.aksk_signing),
            project_name: config.project_name.clone(),
            configured: config.project_id.clone().map(|id| Project {
                id,
                domain_id: config.domain_id.clone(),
            }),
            project: Mutex::new(None),
            catalog: Mutex::new(None),
        }
    }

    fn credential(&self) -> String {
        format!("access key '{}'", self.access_key)
    }

    /// Signs a request in place, in the current form (returned): adds `X-Project-Id` (if given),
    /// `X-Sdk-Date`, `Authorization` and `X-Security-Token` (temporary credentials).
    pub(crate) fn sign_into(
        &self,
        method: &Method,
        url: &Url,
        headers: &mut HeaderMap,
        body: &[u8],
        project_id: Option<&str>,
    ) -> Result<SignatureForm, Error> {
        let host = url
            .host_str()
            .ok_or_else(|| Error::Request(format!("the URL {url} has no host")))?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let mut signed = HeaderMap::new();
        signed.insert(
            HOST,
            HeaderValue::from_str(&host)
                .map_err(|e| Error::Request(format!("host {host}: {e}")))?,
        );
        if let Some(ct) = headers.get(CONTENT_TYPE) {
            signed.insert(CONTENT_TYPE, ct.clone());
        }
        if let Some(pid) = project_id {
            let v = HeaderValue::from_str(pid)
                .map_err(|e| Error::Request(format!("project id '{pid}': {e}")))?;
            signed.insert(HeaderName::from_static(X_PROJECT_ID), v.clone());
            headers.insert(HeaderName::from_static(X_PROJECT_ID), v);
        }
        let req = SignableRequest {
            method,
            url,
            headers: &signed,
            body,
        };
        let form = self.forms.current();
        sign(
            &req,
            form,
            &self.access_key,
            &self.secret_key,
            self.clock.now(),
        )
        .apply(headers)?;
        if let Some(st) = &self.security_token {
            headers.insert(
                HeaderName::from_static(X_SECURITY_TOKEN),
                sensitive_value(st.expose(), "security token")?,
            );
        }
        Ok(form)
    }

    /// One signed GET to IAM, in the current form.
    async fn signed_get_once(
        &self,
        url: &Url,
        project_id: Option<&str>,
    ) -> Result<(SignatureForm, Reply), Error> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let form = self.sign_into(&Method::GET, url, &mut headers, b"", project_id)?;
        let reply = send(&self.http, Method::GET, url, headers, Vec::new()).await?;
        Ok((form, reply))
    }

    /// A signed GET to IAM; after a signature refusal, once more in the other form.
    async fn signed_get(&self, url: &Url, project_id: Option<&str>) -> Result<Reply, Error> {
        let (mut form, mut reply) = self.signed_get_once(url, project_id).await?;
        let status = reply.status.as_u16();
        if is_credential_failure(status, &reply.body) {
            if self.forms.refused(form, status, &reply.body) {
                (form, reply) = self.signed_get_once(url, project_id).await?;
                let status = reply.status.as_u16();
                if is_credential_failure(status, &reply.body) {
                    self.forms.refused(form, status, &reply.body);
                } else if status < 500 {
                    self.forms.accepted(form);
                }
            }
        } else if status < 500 {
            self.forms.accepted(form);
        }
        check(&reply, url, &self.credential())?;
        Ok(reply)
    }

    /// The project: configured id, else resolved by name once.
    pub(crate) async fn project(&self) -> Result<Project, Error> {
        if let Some(p) = &self.configured {
            return Ok(p.clone());
        }
        let mut guard = self.project.lock().await;
        if let Some(p) = guard.as_ref() {
            return Ok(p.clone());
        }
        let name = self.project_name.clone().ok_or_else(|| {
            Error::Request("neither project_id nor project_name is configured".into())
        })?;
        let mut url = iam_url(&self.auth_url, "projects")?;
        url.query_pairs_mut().append_pair("name", &name);
        let reply = self.signed_get(&url, None).await?;
        let list: ProjectList = json(&reply, &url)?;
        let entry = list
            .projects
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .or_else(|| list.projects.first())
            .ok_or_else(|| Error::ProjectNotFound {
                name: name.clone(),
                credential: self.credential(),
            })?;
        let project = Project {
            id: entry.id.clone(),
            domain_id: entry.domain_id.clone(),
        };
        tracing::debug!(project = %name, project_id = %project.id, "project resolved for AK/SK");
        *guard = Some(project.clone());
        Ok(project)
    }

    /// The service catalog, fetched once.
    pub(crate) async fn catalog(&self) -> Result<Arc<Catalog>, Error> {
        let project = self.project().await?;
        let mut guard = self.catalog.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(Arc::clone(c));
        }
        let url = iam_url(&self.auth_url, "auth/catalog")?;
        let reply = self.signed_get(&url, Some(&project.id)).await?;
        let body: CatalogBody = json(&reply, &url)?;
        let catalog = Arc::new(body.catalog);
        tracing::debug!(
            services = catalog.entries.len(),
            "catalog fetched for AK/SK"
        );
        *guard = Some(Arc::clone(&catalog));
        Ok(catalog)
    }
}
