//! Password (and token) authentication: a project-scoped Keystone token, cached and refreshed.
//!
//! `POST {auth_url}/auth/tokens` (OTC IAM API, "Obtaining a User Token Through Password Authentication",
//! <https://github.com/opentelekomcloud-docs/identity-access-management/blob/main/api-ref/source/apis/token_management/obtaining_a_user_token_through_password_authentication.rst>) returns the token in `X-Subject-Token` and the
//! catalog in the body. The token is cached until `expires_at` minus a margin; concurrent callers
//! share one refresh because the cache sits behind an async mutex that is held across the IAM call.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use url::Url;

use super::transport::{check, iam_url, json, send};
use crate::{Catalog, Clock, CloudConfig, Credentials, DomainRef, Error, Secret, UserRef};

/// A token as issued by IAM, with what came along with it.
#[derive(Debug)]
pub(crate) struct IssuedToken {
    pub token: Secret,
    pub expires_at: DateTime<Utc>,
    /// When to fetch a new one (before `expires_at`).
    pub refresh_at: DateTime<Utc>,
    pub project_id: String,
    pub domain_id: Option<String>,
    pub catalog: Arc<Catalog>,
}

/// The cache and the means to fill it.
#[derive(Debug)]
pub(crate) struct TokenSession {
    http: reqwest::Client,
    url: Url,
    clock: Arc<dyn Clock>,
    margin: Duration,
    body: Secret,
    credential: String,
    state: Mutex<Option<Arc<IssuedToken>>>,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    expires_at: String,
    #[serde(default)]
    project: Option<Named>,
    #[serde(default)]
    user: Option<Named>,
    #[serde(default)]
    catalog: Catalog,
}

#[derive(Deserialize)]
struct Named {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    domain: Option<Box<Named>>,
}

fn domain_json(d: &DomainRef) -> Value {
    match d {
        DomainRef::Id(id) => json!({ "id": id }),
        DomainRef::Name(name) => json!({ "name": name }),
    }
}

/// The request body of IAM's password token request (`POST {auth_url}/auth/tokens`). It contains the password, hence a [`Secret`].
pub(crate) fn request_body(config: &CloudConfig) -> Result<Secret, Error> {
    let identity = match &config.credentials {
        Credentials::Password { user, password } => {
            let user = match user {
                UserRef::Id(id) => json!({ "id": id, "password": password.expose() }),
                UserRef::Name { name, domain } => {
                    json!({ "name": name, "password": password.expose(), "domain": domain_json(domain) })
                }
            };
            json!({ "methods": ["password"], "password": { "user": user } })
        }
        Credentials::Token(token) => {
            json!({ "methods": ["token"], "token": { "id": token.expose() } })
        }
        Credentials::AkSk { .. } => {
            return Err(Error::Request(
                "AK/SK credentials do not use tokens (internal misuse of the token session)".into(),
            ))
        }
    };
    let project =
        match (&config.project_id, &config.project_name) {
            (Some(id), _) => json!({ "id": id }),
            (None, Some(name)) => match &config.project_domain {
                Some(d) => json!({ "name": name, "domain": domain_json(d) }),
                None => json!({ "name": name }),
            },
            (None, None) => return Err(Error::MissingField {
                cloud: config.name.clone(),
                origin: config.origin.clone(),
                field: "auth.project_name".into(),
                hint:
                    "set auth.project_name or auth.project_id (or OS_PROJECT_NAME / OS_PROJECT_ID)"
                        .into(),
            }),
        };
    let body = json!({ "auth": { "identity": identity, "scope": { "project": project } } });
    Ok(Secret::new(body.to_string()))
}

impl TokenSession {
    pub(crate) fn new(
        config: &CloudConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        margin: Duration,
    ) -> Result<Self, Error> {
        let mut credential = config.credentials.describe();
        if let Some(p) = config.project_name.as_ref().or(config.project_id.as_ref()) {
            credential.push_str(&format!(" (scope: project '{p}')"));
        }
        Ok(Self {
            http,
            url: iam_url(&config.auth_url, "auth/tokens")?,
            clock,
            margin,
            body: request_body(config)?,
            credential,
            state: Mutex::new(None),
        })
    }

    /// The cached token, or a fresh one. Concurrent callers wait for the one refresh in flight.
    pub(crate) async fn current(&self) -> Result<Arc<IssuedToken>, Error> {
        let mut guard = self.state.lock().await;
        let now = self.clock.now();
        if let Some(t) = guard.as_ref() {
            if now < t.refresh_at {
                return Ok(Arc::clone(t));
            }
        }
        match self.issue(now).await {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                *guard = Some(Arc::clone(&fresh));
                Ok(fresh)
            }
            // A refresh that fails while the old token is still valid is not fatal: keep using it.
            Err(e) => match guard.as_ref() {
                Some(old) if now < old.expires_at => {
                    tracing::debug!(error = %e, expires_at = %old.expires_at, "token refresh failed; using the still-valid token");
                    Ok(Arc::clone(old))
                }
                _ => Err(e),
            },
        }
    }

    /// Drops the cached token.
    pub(crate) async fn invalidate(&self) {
        *self.state.lock().await = None;
        tracing::debug!("cached IAM token invalidated");
    }

    async fn issue(&self, now: DateTime<Utc>) -> Result<IssuedToken, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf8"),
        );
        let reply = send(
            &self.http,
            Method::POST,
            &self.url,
            headers,
            self.body.expose().as_bytes().to_vec(),
        )
        .await?;
        check(&reply, &self.url, &self.credential)?;
        let bad = |problem: String| Error::BadResponse {
            url: self.url.to_string(),
            problem,
        };
        let token = reply
            .headers
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad("no X-Subject-Token header in the token response".into()))?;
        let body: TokenBody = json(&reply, &self.url)?;
        let expires_at = DateTime::parse_from_rfc3339(&body.token.expires_at)
            .map_err(|e| {
                bad(format!(
                    "expires_at '{}' is not a timestamp: {e}",
                    body.token.expires_at
                ))
            })?
            .with_timezone(&Utc);
        if expires_at <= now {
            return Err(bad(format!(
                "IAM issued a token that expires at {expires_at}, before the local time {now}; check the system clock"
            )));
        }
        let project = body
            .token
            .project
            .as_ref()
            .ok_or_else(|| bad("the token is not project-scoped (no token.project)".into()))?;
        let project_id = project
            .id
            .clone()
            .ok_or_else(|| bad("token.project has no id".into()))?;
        let domain_id = project
            .domain
            .as_ref()
            .and_then(|d| d.id.clone())
            .or_else(|| body.token.user.as_ref()?.domain.as_ref()?.id.clone());
        let lifetime = expires_at - now;
        let margin = chrono::Duration::from_std(self.margin)
            .unwrap_or(chrono::Duration::MAX)
            .min(lifetime / 2);
        tracing::debug!(%expires_at, project_id = %project_id, services = body.token.catalog.entries.len(), "IAM token issued");
        Ok(IssuedToken {
            token: Secret::new(token),
            expires_at,
            refresh_at: expires_at - margin,
            project_id,
            domain_id,
            catalog: Arc::new(body.token.catalog),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(credentials: Credentials) -> CloudConfig {
        let mut c = CloudConfig::new(
            "t",
            Url::parse("https://iam.eu-de.otc.t-systems.com/v3").expect("url"),
            "eu-de",
            credentials,
        );
        c.project_name = Some("eu-de_p".into());
        c.project_domain = Some(DomainRef::Name("OTC0001".into()));
        c
    }

    #[test]
    fn password_body_matches_the_spec_shape() {
        let c = config(Credentials::Password {
            user: UserRef::Name {
                name: "USER".into(),
                domain: DomainRef::Name("OTC0001".into()),
            },
            password: Secret::new("PW"),
        });
        let body: Value =
            serde_json::from_str(request_body(&c).expect("body").expose()).expect("json");
        assert_eq!(
            body,
            json!({"auth":{
              "identity":{"methods":["password"],"password":{"user":{"name":"USER","password":"PW","domain":{"name":"OTC0001"}}}},
              "scope":{"project":{"name":"eu-de_p","domain":{"name":"OTC0001"}}}}})
        );
    }

    #[test]
    fn token_body_and_project_id_scope() {
        let mut c = config(Credentials::Token(Secret::new("T0K")));
        c.project_id = Some("pid".into());
        let body: Value =
            serde_json::from_str(request_body(&c).expect("body").expose()).expect("json");
        assert_eq!(
            body["auth"]["identity"],
            json!({"methods":["token"],"token":{"id":"T0K"}})
        );
        assert_eq!(body["auth"]["scope"], json!({"project":{"id":"pid"}}));
    }
}
