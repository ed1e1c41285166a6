//! Where traces come from: the CTS API, behind a small trait.
//!
//! The follower (and cts-exporter's API backfill) asks a [`TraceSource`] for
//! every trace of a window; [`CtsSource`] answers through [`CtsClient`]
//! (pagination, retries of throttling and server errors included). The
//! trait keeps the follower testable with a scripted source and decides one
//! thing the client does not: which failures are worth polling again and
//! which need a human ([`classify`]). A trace the client could not read
//! comes through as [`Fetched::Undecodable`], so the window is not failed
//! for it: the caller reports and keeps it, and the watermark moves on.

use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt};
use url::Url;

use crate::{CtsClient, Endpoint, Error, Trace, TraceQuery, UndecodableTrace};

use super::Window;

/// A failed fetch, after the client's own retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    /// What happened, with the fix where one is known.
    pub message: String,
    /// True when polling again cannot help (credentials, permissions, a bad
    /// filter, an unknown tracker): the follower stops with this error.
    pub fatal: bool,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

/// One element of a window's trace list.
// Items are as large as the `Trace`s streamed before; boxing would add an
// allocation per trace for the rare undecodable one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// A trace to deliver.
    Trace(Trace),
    /// A trace the model cannot read: to be reported and kept, never delivered.
    Undecodable(UndecodableTrace),
}

/// Every trace of a window, in any order, possibly with duplicates.
pub trait TraceSource: Send + Sync + std::fmt::Debug {
    /// The traces with `from < time < to`; the stream ends after the first error.
    fn traces(&self, window: Window) -> BoxStream<'static, Result<Fetched, FetchError>>;
}

impl<S: TraceSource + ?Sized> TraceSource for Arc<S> {
    fn traces(&self, window: Window) -> BoxStream<'static, Result<Fetched, FetchError>> {
        (**self).traces(window)
    }
}

/// The key a follower's position is stored under: names the CTS host,
/// project and tracker, `<scheme>://<host>[:<port>]/projects/<project>/trackers/<tracker>`.
///
/// It is the CloudEvents `source` cts-exporter sends (and the key of its
/// state file), so a follower using a [`super::FileCheckpoint`] on an
/// exporter's state file continues where the exporter was.
pub fn source_key(cts_endpoint: &Url, project_id: &str, tracker: &str) -> String {
    crate::tracker_source(cts_endpoint, project_id, tracker)
}

/// The CTS trace-list API of one tracker.
#[derive(Debug, Clone)]
pub struct CtsSource {
    client: CtsClient,
    template: TraceQuery,
    key: Option<String>,
}

impl CtsSource {
    /// Queries with `template` (tracker, filters, page size); its time range
    /// is replaced by each window's.
    pub fn new(client: CtsClient, template: TraceQuery) -> CtsSource {
        CtsSource {
            client,
            template,
            key: None,
        }
    }

    /// The `tracker` of the cloud `auth` is for: resolves the project id and
    /// the CTS endpoint through IAM (the service catalog), with default
    /// client settings and [`crate::MAX_LIMIT`] traces per page.
    pub async fn connect(
        auth: Arc<otc_auth::AuthProvider>,
        tracker: &str,
    ) -> Result<CtsSource, Error> {
        let project_id = auth.project_id().await.map_err(Error::Auth)?;
        let url = auth.endpoint("cts").await.map_err(Error::Auth)?;
        let endpoint = Endpoint::from_catalog_url(url.as_str())?;
        let client = CtsClient::builder(endpoint, auth).build()?;
        let template = TraceQuery::new().tracker(tracker).limit(crate::MAX_LIMIT);
        Ok(CtsSource::new(client, template).with_key(source_key(&url, &project_id, tracker)))
    }

    /// Sets the key [`CtsSource::key`] returns.
    pub fn with_key(mut self, key: impl Into<String>) -> CtsSource {
        self.key = Some(key.into());
        self
    }

    /// The checkpoint key ([`source_key`]) when known (set by
    /// [`CtsSource::connect`] or [`CtsSource::with_key`]).
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The query sent for `window` (for logs and tests).
    pub fn query(&self, window: Window) -> TraceQuery {
        self.template
            .clone()
            .window_ms(window.from_ms, window.to_ms)
    }
}

impl TraceSource for CtsSource {
    fn traces(&self, window: Window) -> BoxStream<'static, Result<Fetched, FetchError>> {
        self.client
            .pages(self.query(window))
            .flat_map(|r| {
                let items: Vec<Result<Fetched, FetchError>> = match r {
                    Ok(page) => page
                        .traces
                        .into_iter()
                        .map(Fetched::Trace)
                        .chain(page.undecodable.into_iter().map(Fetched::Undecodable))
                        .map(Ok)
                        .collect(),
                    Err(e) => vec![Err(classify(&e))],
                };
                futures::stream::iter(items)
            })
            .boxed()
    }
}

/// Decides whether a client error is worth another poll.
pub fn classify(e: &Error) -> FetchError {
    use Error as E;
    let fatal = match e {
        E::Unauthorized(_)
        | E::Forbidden(_)
        | E::NotFound(_)
        | E::BadRequest(_)
        | E::InvalidQuery { .. }
        | E::InvalidEndpoint { .. }
        | E::InvalidConfig { .. } => true,
        E::Auth(inner) => !inner.is_retryable(),
        _ => false,
    };
    FetchError {
        message: e.to_string(),
        fatal,
    }
}
