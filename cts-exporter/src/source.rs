//! Where traces come from: the CTS API, behind a small trait.
//!
//! The poller and the API backfill ask a [`TraceSource`] for every trace of a
//! window; [`CtsSource`] answers through `cts-client` (pagination, retries of
//! throttling and server errors included). The trait keeps the poller
//! testable with a scripted source and decides one thing the client does
//! not: which failures are worth polling again and which need a human.
//! A trace the client could not read comes through as
//! [`Fetched::Undecodable`], so the window is not failed for it: the
//! dispatcher reports and keeps it, and the watermark moves on.

use futures::stream::{BoxStream, StreamExt};

use cts_client::{CtsClient, Trace, TraceQuery, UndecodableTrace};

use crate::config::Filters;
use crate::window::Window;

/// A failed fetch, after the client's own retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    /// What happened, with the fix where one is known.
    pub message: String,
    /// True when polling again cannot help (credentials, permissions, a bad
    /// filter, an unknown tracker): the process stops with exit code 70.
    pub fatal: bool,
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One element of a window's trace list.
// Items are as large as the `Trace`s streamed before; boxing would add an
// allocation per trace for the rare undecodable one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// A trace to deliver.
    Trace(Trace),
    /// A trace the model cannot read: reported and kept, never delivered.
    Undecodable(UndecodableTrace),
}

/// Every trace of a window, in any order, possibly with duplicates.
pub trait TraceSource: Send + Sync + std::fmt::Debug {
    /// The traces with `from < time < to`; the stream ends after the first error.
    fn traces(&self, window: Window) -> BoxStream<'static, Result<Fetched, FetchError>>;
}

/// The CTS trace-list API.
#[derive(Debug, Clone)]
pub struct CtsSource {
    client: CtsClient,
    template: TraceQuery,
}

impl CtsSource {
    /// Queries `tracker` with `filters`, `page_size` traces per page.
    pub fn new(client: CtsClient, tracker: &str, filters: &Filters, page_size: u32) -> CtsSource {
        let f = filters.clone();
        let template = TraceQuery {
            tracker: Some(tracker.to_string()),
            limit: Some(page_size),
            service_type: f.service,
            user: f.user,
            resource_id: f.resource_id,
            resource_name: f.resource_name,
            resource_type: f.resource_type,
            trace_name: f.operation,
            trace_rating: f.rating.as_deref().map(cts_client::TraceRating::parse),
            ..TraceQuery::default()
        };
        CtsSource { client, template }
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
pub fn classify(e: &cts_client::Error) -> FetchError {
    use cts_client::Error as E;
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
