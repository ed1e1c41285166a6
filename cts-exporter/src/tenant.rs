//! One tenant: a cloud from clouds.yaml, authenticated, with its CTS endpoint,
//! project, domain and region resolved once at start.
//!
//! This is the only place that talks to `otc-auth`; it also sorts its errors
//! into "fix the configuration" (exit 78) and "IAM failed" (exit 70).

use std::sync::Arc;
use std::time::Duration;

use cts_client::{CtsClient, Endpoint};
use otc_auth::{load_cloud, AuthProvider, LoadOptions};

use crate::app::AppError;
use crate::config::Config;
use crate::event::EventContext;
use cts_client::follow::{CtsSource, TraceSource};

/// IAM calls at start are retried this many times when the failure is transient.
const STARTUP_ATTEMPTS: u32 = 5;

/// An authenticated tenant, ready to poll.
#[derive(Debug)]
pub struct Tenant {
    /// The cloud's name, used as the `cloud` metrics label and in logs.
    pub label: String,
    /// What every event of this tenant shares.
    pub context: EventContext,
    /// Its traces.
    pub source: Arc<dyn TraceSource>,
}

/// Loads `cloud` (or the only/`OS_CLOUD` cloud when `None`) from clouds.yaml
/// and the environment, without calling IAM.
pub fn configured_cloud(cloud: Option<&str>) -> Result<otc_auth::CloudConfig, otc_auth::Error> {
    load_cloud(&LoadOptions::from_process(), cloud)
}

/// Loads `cloud` (or the only/`OS_CLOUD` cloud when `None`) and resolves it against IAM.
pub async fn connect(cfg: &Config, cloud: Option<&str>) -> Result<Tenant, AppError> {
    let opts = LoadOptions::from_process();
    let cloud_cfg = load_cloud(&opts, cloud).map_err(auth_error)?;
    let label = cloud_cfg.name.clone();
    let provider = Arc::new(AuthProvider::new(cloud_cfg).map_err(auth_error)?);
    let project_id = startup(&label, || provider.project_id()).await?;
    let domain_id = startup(&label, || provider.domain_id())
        .await?
        .unwrap_or_default();
    let cts_url = startup(&label, || provider.endpoint("cts")).await?;
    let endpoint = Endpoint::from_catalog_url(cts_url.as_str()).map_err(|e| {
        AppError::Runtime(format!(
            "cloud {label}: the catalog's CTS endpoint is unusable: {e}"
        ))
    })?;
    let client = CtsClient::builder(endpoint, provider.clone())
        .api_version(cfg.api)
        .user_agent(concat!("cts-exporter/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AppError::Config(format!("cloud {label}: {e}")))?;
    if domain_id.is_empty() {
        tracing::warn!(cloud = %label, "IAM did not tell the domain id; the `domain` extension falls back to each trace's user domain");
    }
    let context = EventContext::new(
        &cts_url,
        &project_id,
        &domain_id,
        provider.region(),
        &cfg.tracker,
    )
    .with_original_extensions(cfg.original_extensions)
    .with_project_name(provider.config().project_name.as_deref());
    tracing::info!(cloud = %label, source = %context.source, region = %context.region, api = %cfg.api, "tenant ready");
    let f = cfg.filters.clone();
    let template = cts_client::TraceQuery {
        tracker: Some(cfg.tracker.clone()),
        limit: Some(cfg.page_size),
        service_type: f.service,
        user: f.user,
        resource_id: f.resource_id,
        resource_name: f.resource_name,
        resource_type: f.resource_type,
        trace_name: f.operation,
        trace_rating: f.rating.as_deref().map(cts_client::TraceRating::parse),
        ..cts_client::TraceQuery::default()
    };
    let source = CtsSource::new(client, template).with_key(context.source.clone());
    Ok(Tenant {
        label,
        context,
        source: Arc::new(source),
    })
}

/// Runs an IAM call, retrying transient failures a few times.
async fn startup<T, F, Fut>(label: &str, mut call: F) -> Result<T, AppError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, otc_auth::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < STARTUP_ATTEMPTS => {
                let wait = Duration::from_secs(1 << (attempt - 1));
                tracing::warn!(cloud = %label, error = %e, attempt, "IAM call failed; retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(auth_error(e)),
        }
    }
}

/// Configuration problems exit 78; IAM answering or failing at run time exits 70.
pub fn auth_error(e: otc_auth::Error) -> AppError {
    use otc_auth::Error as E;
    match e {
        E::NoConfig { .. }
        | E::ConfigFileMissing { .. }
        | E::Read { .. }
        | E::Parse { .. }
        | E::UnknownCloud { .. }
        | E::AmbiguousCloud { .. }
        | E::NoClouds { .. }
        | E::CloudNameCollision { .. }
        | E::MissingField { .. }
        | E::InvalidField { .. }
        | E::Unsupported { .. } => AppError::Config(e.to_string()),
        other => AppError::Runtime(other.to_string()),
    }
}
