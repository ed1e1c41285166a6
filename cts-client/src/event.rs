//! Trace → CloudEvent (feature `cloudevents`): the project's event format.
//!
//! cts-exporter sends every trace as the event [`to_event`] builds and
//! neo4j-sink decodes it, so a Rust program following CTS with
//! [`crate::follow`] emits the same events by calling it. Pure and
//! synchronous: every attribute is unit-tested without a network. The shape
//! is documented in `docs/events.md`: `id` is the trace id, `source` names
//! the tenant's CTS (endpoint host, project, tracker) so that `(source, id)`
//! identifies a trace across restarts, `type` is
//! `com.otc.cts.trace.<service>.<operation>`, and the extensions carry the
//! graph context a sink needs (`project`, `region`, `domain`, always set).
//! With [`EventContext::original_extensions`] the event also carries the
//! extensions the original Go tool's sink reads (`tenant`, `status`, `code`,
//! and `resourceid` even when empty). Writing the event onto the wire is the
//! caller's (cts-exporter uses the `ce-delivery` crate).
//!
//! ```
//! use cts_client::event::{to_event, EventContext};
//! use cloudevents::AttributesReader;
//!
//! let endpoint = url::Url::parse("https://cts.eu-de.otc.t-systems.com/v3/p1").unwrap();
//! let ctx = EventContext::new(&endpoint, "p1", "d1", "eu-de", "system");
//! let trace: cts_client::Trace = serde_json::from_str(
//!     r#"{"trace_id":"t-1","service_type":"ECS","trace_name":"createServer","time":1700000000000}"#,
//! ).unwrap();
//! let event = to_event(&trace, &ctx, &Default::default()).unwrap();
//! assert_eq!(event.ty(), "com.otc.cts.trace.ecs.createserver");
//! assert_eq!(event.source().to_string(), "https://cts.eu-de.otc.t-systems.com/projects/p1/trackers/system");
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cloudevents::{Event, EventBuilder, EventBuilderV10};
use url::Url;

use crate::Trace;

/// Prefix of every event type; Knative Triggers can filter on it.
pub const TYPE_PREFIX: &str = "com.otc.cts.trace.";

/// What every event of one event source (a tenant's tracker, or an archive) shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventContext {
    /// The `source` attribute (see [`EventContext::source_uri`]).
    pub source: String,
    /// Project id (`project` extension).
    pub project_id: String,
    /// Domain (account) id (`domain` extension).
    pub domain_id: String,
    /// Region, e.g. `eu-de` (`region` extension).
    pub region: String,
    /// Tracker name (`tracker` extension).
    pub tracker: String,
    /// Also add the extensions the original tool's sink reads (cts-exporter's
    /// `CTS_CE_ORIGINAL_EXTENSIONS`); off unless set with
    /// [`EventContext::with_original_extensions`].
    pub original_extensions: bool,
    /// The project's name (`projectname` extension) when the configuration
    /// names it, e.g. `eu-de_myproject`; empty when unknown (not sent).
    pub project_name: String,
}

impl EventContext {
    /// Builds the context; the source is derived from the CTS endpoint.
    pub fn new(
        cts_endpoint: &Url,
        project_id: &str,
        domain_id: &str,
        region: &str,
        tracker: &str,
    ) -> Self {
        EventContext {
            source: Self::source_uri(cts_endpoint, project_id, tracker),
            project_id: project_id.to_string(),
            domain_id: domain_id.to_string(),
            region: region.to_string(),
            tracker: tracker.to_string(),
            original_extensions: false,
            project_name: String::new(),
        }
    }

    /// Sets the project's name, sent as the `projectname` extension.
    pub fn with_project_name(mut self, name: Option<&str>) -> Self {
        self.project_name = name.map(str::trim).unwrap_or_default().to_string();
        self
    }

    /// Turns the original tool's extensions on or off.
    pub fn with_original_extensions(mut self, on: bool) -> Self {
        self.original_extensions = on;
        self
    }

    /// The context of the cloud `provider` authenticates for (feature
    /// `client`): IAM is asked for the project id, the domain id (empty when
    /// IAM does not tell it) and the CTS endpoint of the service catalog,
    /// each call tried up to [`RESOLVE_ATTEMPTS`] times while its failure is
    /// transient ([`otc_auth::Error::is_retryable`]; 1 s, 2 s, 4 s … apart,
    /// each logged at WARN). The project name of the cloud's configuration
    /// becomes `projectname`. Returns the context and the catalog's CTS URL.
    ///
    /// # Errors
    ///
    /// The last [`otc_auth::Error`] of a call that failed for good.
    #[cfg(feature = "client")]
    pub async fn resolve(
        provider: &otc_auth::AuthProvider,
        tracker: &str,
    ) -> Result<(EventContext, Url), otc_auth::Error> {
        let cloud = provider.config().name.as_str();
        let project_id = retry_transient(cloud, || provider.project_id()).await?;
        let domain_id = retry_transient(cloud, || provider.domain_id()).await?;
        let cts_url = retry_transient(cloud, || provider.endpoint("cts")).await?;
        let ctx = EventContext::new(
            &cts_url,
            &project_id,
            domain_id.as_deref().unwrap_or_default(),
            provider.region(),
            tracker,
        )
        .with_project_name(provider.config().project_name.as_deref());
        Ok((ctx, cts_url))
    }

    /// The context of an archive whose project id is known (feature
    /// `archive`), built offline: its `source` names the region's CTS host
    /// ([`crate::archive::regional_cts_url`]), so it is the `source` the
    /// poller of that tenant sends on OTC; the domain is the traces' (empty
    /// when none was found). `None` for an archive that only names its project.
    #[cfg(feature = "archive")]
    pub fn of_archive(id: &crate::archive::Identity) -> Option<EventContext> {
        let crate::archive::Project::Id(project_id) = &id.project else {
            return None;
        };
        let url = crate::archive::regional_cts_url(&id.region);
        let domain = id.domain.as_deref().unwrap_or_default();
        Some(EventContext::new(
            &url,
            project_id,
            domain,
            &id.region,
            &id.tracker,
        ))
    }

    /// `<scheme>://<host>[:port]/projects/<project_id>/trackers/<tracker>`.
    ///
    /// Only the endpoint's origin is used, never its path, so the source stays
    /// the same whichever API version (v1, v2, v3) is polled.
    ///
    /// The same string as `follow::source_key`, the key under which a
    /// follower's checkpoint is stored, so events and checkpoints always agree.
    pub fn source_uri(cts_endpoint: &Url, project_id: &str, tracker: &str) -> String {
        crate::tracker_source(cts_endpoint, project_id, tracker)
    }
}

/// How often [`EventContext::resolve`] tries an IAM call whose failure is transient.
#[cfg(feature = "client")]
pub const RESOLVE_ATTEMPTS: u32 = 5;

/// Runs an IAM call, retrying transient failures a few times.
#[cfg(feature = "client")]
async fn retry_transient<T, F, Fut>(cloud: &str, mut call: F) -> Result<T, otc_auth::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, otc_auth::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(e) if e.is_retryable() && attempt < RESOLVE_ATTEMPTS => {
                let wait = std::time::Duration::from_secs(1 << (attempt - 1));
                tracing::warn!(cloud = %cloud, error = %e, attempt, "IAM call failed; retrying");
                tokio::time::sleep(wait).await;
            }
            result => return result,
        }
    }
}

/// Why a trace cannot become an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    /// The trace has no (or a blank) `trace_id`.
    MissingId,
    /// The CloudEvents builder refused an attribute.
    Invalid(String),
}

impl std::error::Error for MapError {}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MapError::MissingId => f.write_str("trace has no trace_id"),
            MapError::Invalid(e) => write!(f, "trace cannot become a CloudEvent: {e}"),
        }
    }
}

/// `com.otc.cts.trace.<service>.<operation>`, lower case.
///
/// Characters outside `a-z 0-9 _ -` become `_` (so a dot never adds a
/// segment) and a missing part becomes `unknown`.
pub fn event_type(trace: &Trace) -> String {
    let mut out = String::with_capacity(TYPE_PREFIX.len() + 32);
    out.push_str(TYPE_PREFIX);
    push_segment(&mut out, trace.service_type.as_deref());
    out.push('.');
    push_segment(&mut out, trace.trace_name.as_deref());
    out
}

fn push_segment(out: &mut String, part: Option<&str>) {
    let part = part.map(str::trim).filter(|s| !s.is_empty());
    match part {
        None => out.push_str("unknown"),
        Some(p) => out.extend(p.chars().map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })),
    }
}

/// The trace's time: `time`, else `record_time` (epoch ms).
pub fn trace_time_ms(trace: &Trace) -> Option<i64> {
    trace.time.or(trace.record_time)
}

fn non_empty(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// Maps one trace to its CloudEvent.
///
/// `overrides` are extensions set last, over the ones of the mapping (as
/// Knative's `K_CE_OVERRIDES` asks: `ce_delivery::Overrides::extensions`);
/// pass an empty map for none.
///
/// # Errors
///
/// [`MapError::MissingId`] for a trace without a `trace_id`;
/// [`MapError::Invalid`] when an attribute is not valid CloudEvents.
pub fn to_event(
    trace: &Trace,
    ctx: &EventContext,
    overrides: &BTreeMap<String, String>,
) -> Result<Event, MapError> {
    let id = trace.id().ok_or(MapError::MissingId)?;
    let data = serde_json::to_value(trace).map_err(|e| MapError::Invalid(e.to_string()))?;
    let mut b = EventBuilderV10::new()
        .id(id)
        .source(ctx.source.as_str())
        .ty(event_type(trace))
        .data("application/json", data);
    if let Some(subject) =
        non_empty(trace.resource_name.as_deref()).or(non_empty(trace.resource_id.as_deref()))
    {
        b = b.subject(subject);
    }
    if let Some(t) = trace_time_ms(trace).and_then(DateTime::<Utc>::from_timestamp_millis) {
        b = b.time(t);
    }
    let domain = non_empty(Some(ctx.domain_id.as_str()))
        .or_else(|| {
            non_empty(
                trace
                    .user
                    .as_ref()
                    .and_then(|u| u.domain.as_ref())
                    .and_then(|d| d.id.as_deref()),
            )
        })
        .unwrap_or("unknown");
    b = b
        .extension("project", ctx.project_id.as_str())
        .extension("region", ctx.region.as_str())
        .extension("domain", domain)
        .extension("tracker", ctx.tracker.as_str());
    if !ctx.project_name.is_empty() {
        b = b.extension("projectname", ctx.project_name.as_str());
    }
    let optional = [
        ("service", trace.service_type.as_deref()),
        ("operation", trace.trace_name.as_deref()),
        ("rating", trace.trace_rating.as_ref().map(|r| r.as_str())),
        ("resourcetype", trace.resource_type.as_deref()),
        ("resourceid", trace.resource_id.as_deref()),
        ("user", trace.user.as_ref().and_then(|u| u.name.as_deref())),
    ];
    for (name, value) in optional {
        if let Some(v) = non_empty(value) {
            b = b.extension(name, v);
        }
    }
    if ctx.original_extensions {
        // What the original exporter set on every event, empty or not; its
        // sink stores `tenant`, `status` and `resourceid` on each action.
        let rating = trace.trace_rating.as_ref().map(|r| r.as_str());
        b = b
            .extension("tenant", ctx.project_id.as_str())
            .extension("status", non_empty(rating).unwrap_or(""))
            .extension("code", non_empty(trace.code.as_deref()).unwrap_or(""))
            .extension(
                "resourceid",
                non_empty(trace.resource_id.as_deref()).unwrap_or(""),
            );
    }
    for (name, value) in overrides {
        b = b.extension(name, value.as_str());
    }
    b.build().map_err(|e| MapError::Invalid(e.to_string()))
}

#[cfg(feature = "delivery")]
#[path = "event_dispatch.rs"]
mod dispatch;
#[cfg(feature = "delivery")]
pub use dispatch::{DispatchObserver, Dispatcher};

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
