//! One tenant: a cloud from clouds.yaml, authenticated, with its CTS endpoint,
//! project, domain and region resolved once at start.
//!
//! This is the only place that talks to `otc-auth`; it also sorts its errors
//! into "fix the configuration" (exit 78) and "IAM failed" (exit 70).

use std::sync::Arc;

use cts_client::{CtsClient, Endpoint};
use otc_auth::{load_cloud, AuthProvider, LoadOptions};

use crate::app::AppError;
use crate::config::Config;
use cts_client::event::EventContext;
use cts_client::follow::{CtsSource, TraceSource};

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
    let (context, cts_url) = EventContext::resolve(&provider, &cfg.tracker)
        .await
        .map_err(auth_error)?;
    let context = context.with_original_extensions(cfg.original_extensions);
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
    if context.domain_id.is_empty() {
        tracing::warn!(cloud = %label, "IAM did not tell the domain id; the `domain` extension falls back to each trace's user domain");
    }
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

/// Configuration problems exit 78; IAM answering or failing at run time exits 70.
pub fn auth_error(e: otc_auth::Error) -> AppError {
    if e.is_configuration() {
        AppError::Config(e.to_string())
    } else {
        AppError::Runtime(e.to_string())
    }
}
