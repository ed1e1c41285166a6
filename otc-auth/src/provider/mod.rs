//! [`AuthProvider`]: the object service clients hold to authenticate requests.
//!
//! It owns the I/O of authentication (IAM calls, the token cache) so that signing stays pure. One
//! provider serves one cloud; clones share the cache. With password or token credentials it
//! attaches `X-Auth-Token`; with AK/SK it signs every request.

mod aksk;
mod form;
mod token;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, Method};
use url::Url;

use crate::authorizer::{sensitive_value, X_AUTH_TOKEN};
use crate::sign::SignatureForm;
use crate::{Catalog, Clock, CloudConfig, Credentials, Error, RequestAuthorizer, SystemClock};

use aksk::AkSkSession;
use token::TokenSession;

/// Tuning knobs of an [`AuthProvider`].
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Refresh a token this long before its `expires_at` (capped at half the token's lifetime).
    /// Default 5 minutes.
    pub refresh_margin: Duration,
    /// Timeout of each IAM request. Default 30 seconds.
    pub timeout: Duration,
    /// Source of the current time. Default [`SystemClock`].
    pub clock: Arc<dyn Clock>,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            clock: Arc::new(SystemClock),
        }
    }
}

#[derive(Debug)]
enum Mode {
    Token(TokenSession),
    AkSk(AkSkSession),
}

#[derive(Debug)]
struct Inner {
    config: CloudConfig,
    mode: Mode,
}

/// Authenticates requests for one cloud. Cheap to clone; clones share the token cache.
#[derive(Debug, Clone)]
pub struct AuthProvider {
    inner: Arc<Inner>,
}

impl AuthProvider {
    /// A provider with default [`ProviderOptions`]. Does no I/O: IAM is contacted on first use.
    ///
    /// # Errors
    /// [`Error::Read`] / [`Error::InvalidField`] for an unreadable `cacert`, [`Error::MissingField`]
    /// if the configuration has neither a project name nor a project id.
    pub fn new(config: CloudConfig) -> Result<Self, Error> {
        Self::with_options(config, ProviderOptions::default())
    }

    /// A provider with explicit options (clock, refresh margin, timeout).
    ///
    /// # Errors
    /// As [`AuthProvider::new`].
    pub fn with_options(config: CloudConfig, options: ProviderOptions) -> Result<Self, Error> {
        if config.project_id.is_none() && config.project_name.is_none() {
            return Err(Error::MissingField {
                cloud: config.name.clone(),
                origin: config.origin.clone(),
                field: "auth.project_name".into(),
                hint: "set auth.project_name (e.g. eu-de_myproject) or auth.project_id (or OS_PROJECT_NAME / OS_PROJECT_ID); \
                       CTS needs a project scope"
                    .into(),
            });
        }
        let http = transport::client(&config, options.timeout)?;
        let mode = match &config.credentials {
            Credentials::AkSk {
                access_key,
                secret_key,
                security_token,
            } => Mode::AkSk(AkSkSession::new(
                &config,
                http,
                options.clock,
                access_key.clone(),
                secret_key.clone(),
                security_token.clone(),
            )),
            _ => Mode::Token(TokenSession::new(
                &config,
                http,
                options.clock,
                options.refresh_margin,
            )?),
        };
        Ok(Self {
            inner: Arc::new(Inner { config, mode }),
        })
    }

    /// The cloud this provider authenticates for.
    pub fn config(&self) -> &CloudConfig {
        &self.inner.config
    }

    /// The AK/SK signature form the next request will be signed in (`None` for password and token
    /// credentials): the configured form, or the other one once the gateway refused the configured
    /// form and accepted the other (<https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/authentication.md>, §3.2).
    pub fn signature_form(&self) -> Option<SignatureForm> {
        match &self.inner.mode {
            Mode::Token(_) => None,
            Mode::AkSk(a) => Some(a.forms.current()),
        }
    }

    /// The region (from the configuration; no I/O).
    pub fn region(&self) -> &str {
        &self.inner.config.region
    }

    /// The project id: from the token (password/token), or configured / looked up by name (AK/SK).
    ///
    /// # Errors
    /// IAM errors ([`Error::Unauthorized`] names the rejected credential), [`Error::ProjectNotFound`].
    pub async fn project_id(&self) -> Result<String, Error> {
        match &self.inner.mode {
            Mode::Token(t) => Ok(t.current().await?.project_id.clone()),
            Mode::AkSk(a) => Ok(a.project().await?.id),
        }
    }

    /// The domain (account) id, when IAM or the configuration tells it.
    ///
    /// # Errors
    /// As [`AuthProvider::project_id`].
    pub async fn domain_id(&self) -> Result<Option<String>, Error> {
        match &self.inner.mode {
            Mode::Token(t) => Ok(t
                .current()
                .await?
                .domain_id
                .clone()
                .or_else(|| self.inner.config.domain_id.clone())),
            Mode::AkSk(a) => Ok(a
                .project()
                .await?
                .domain_id
                .or_else(|| self.inner.config.domain_id.clone())),
        }
    }

    /// The service catalog.
    ///
    /// # Errors
    /// As [`AuthProvider::project_id`].
    pub async fn catalog(&self) -> Result<Arc<Catalog>, Error> {
        match &self.inner.mode {
            Mode::Token(t) => Ok(Arc::clone(&t.current().await?.catalog)),
            Mode::AkSk(a) => a.catalog().await,
        }
    }

    /// The endpoint of `service_type` (e.g. `cts`) for the cloud's interface and region, ending in `/`.
    ///
    /// # Errors
    /// [`Error::EndpointNotFound`] listing what the catalog offers, or an IAM error.
    pub async fn endpoint(&self, service_type: &str) -> Result<Url, Error> {
        let catalog = self.catalog().await?;
        let project_id = self.project_id().await?;
        let c = &self.inner.config;
        catalog.endpoint(service_type, &c.interface, &c.region, Some(&project_id))
    }
}

#[async_trait::async_trait]
impl RequestAuthorizer for AuthProvider {
    async fn authorize(
        &self,
        method: &Method,
        url: &Url,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<(), Error> {
        match &self.inner.mode {
            Mode::Token(t) => {
                let token = t.current().await?;
                headers.insert(
                    HeaderName::from_static(X_AUTH_TOKEN),
                    sensitive_value(token.token.expose(), "token")?,
                );
                Ok(())
            }
            Mode::AkSk(a) => {
                let project = a.project().await?;
                a.sign_into(method, url, headers, body, Some(&project.id))
                    .map(|_| ())
            }
        }
    }

    async fn refused(&self, sent: &HeaderMap, status: u16, body: &[u8]) {
        match &self.inner.mode {
            Mode::Token(t) => t.invalidate().await,
            Mode::AkSk(a) => {
                if let Some(form) = form::form_of(sent) {
                    a.forms.refused(form, status, body);
                }
            }
        }
    }

    fn accepted(&self, sent: &HeaderMap) {
        if let (Mode::AkSk(a), Some(form)) = (&self.inner.mode, form::form_of(sent)) {
            a.forms.accepted(form);
        }
    }

    async fn invalidate(&self) {
        match &self.inner.mode {
            Mode::Token(t) => t.invalidate().await,
            // Signatures are made per request; there is nothing cached that a 401 could make stale.
            Mode::AkSk(_) => {}
        }
    }
}
