#![cfg_attr(feature = "client", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "client"),
    doc = "Typed client for the Open Telekom Cloud Cloud Trace Service (CTS): the [`Trace`] model only \
           (feature `client` is off)."
)]
//!
//! # Where to start
//!
//! - [`CtsClient::from_cloud`]: the one-call setup from an [`otc_auth::CloudConfig`].
//! - [`CtsClient::builder_from_provider`] or [`CtsClient::builder`] to change settings
//!   ([`ApiVersion`], [`RetryConfig`], timeouts) or to bring another [`otc_auth::RequestAuthorizer`].
//! - [`TraceQuery`] (filters; window bounds through [`EpochMillis`]), then [`CtsClient::traces`]
//!   (every trace, all pages), [`CtsClient::pages`] or [`CtsClient::list_traces`] (one page).
//! - [`CtsClient::list_trackers`] and [`CtsClient::get_tracker`].
//! - [`Error`]: the one error type, [`otc_auth::Error`] included (`From`).
//! - Feature `follow` (on by default): [`follow`], following a tracker
//!   without gaps (overlapping windows, de-duplication, a watermark saved
//!   through a [`follow::Checkpoint`]), the engine cts-exporter runs on.
//! - Feature `archive` (on by default): [`archive`], reading CTS archive
//!   files of the OBS layout.
//! - Feature `cloudevents` (off by default): [`event`], a trace as the
//!   project's CloudEvent (the format cts-exporter sends, docs/events.md);
//!   feature `delivery` adds `event::Dispatcher`, a [`follow::Deliver`]
//!   sending them through a `ce_delivery::Pipeline`.
//!
//! # Behaviour worth knowing
//!
//! - URLs: v2 and v3 are derived from the catalog URL (`…/v1.0/{project_id}`)
//!   by replacing the version **path segment**; the host is never changed
//!   ([`Endpoint`]).
//! - Pagination stops on a null/empty marker or an empty page, and fails
//!   with [`Error::MarkerLoop`] when a marker repeats ([`CtsClient::pages`]).
//! - One trace the model cannot read does not fail its page: it comes in
//!   [`TracePage::undecodable`] with its raw JSON, and the other traces of
//!   the page are decoded; [`CtsClient::traces`] ends with
//!   [`Error::UndecodableTrace`] there instead of skipping it.
//! - A 401 makes the client call [`otc_auth::RequestAuthorizer::refused`]
//!   (a token is dropped; an AK/SK signature switches to the other form once)
//!   and try once more; a second 401 is [`Error::Unauthorized`].
//! - 429 (honouring `Retry-After`), 5xx, network errors and timeouts are
//!   retried per [`RetryConfig`]; other 4xx are not ([`retry::classify`]).
//! - The v2 status filter name is a documented conflict; see [`V2StatusParam`].
#![deny(missing_docs)]
// The crate doc links client, follow and archive items; without the features they do not exist.
#![cfg_attr(
    not(all(
        feature = "client",
        feature = "follow",
        feature = "archive",
        feature = "delivery"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod trace;

#[cfg(feature = "archive")]
pub mod archive;
#[cfg(feature = "cloudevents")]
pub mod event;
#[cfg(feature = "follow")]
pub mod follow;

/// `<scheme>://<host>[:port]/projects/<project_id>/trackers/<tracker>`: the
/// CloudEvents `source` of a tracker's traces (`event`) and the key of its
/// checkpoint (`follow`), one function so the two always agree. Only the
/// endpoint's origin is used, so the string is the same for every API version.
#[cfg(any(feature = "cloudevents", feature = "follow"))]
fn tracker_source(cts_endpoint: &url::Url, project_id: &str, tracker: &str) -> String {
    let host = cts_endpoint.host_str().unwrap_or("cts");
    let port = cts_endpoint
        .port()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    format!(
        "{}://{host}{port}/projects/{project_id}/trackers/{tracker}",
        cts_endpoint.scheme()
    )
}

pub use trace::{DomainInfo, Trace, TraceRating, UserInfo};

#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub mod clock;
#[cfg(feature = "client")]
mod decode;
#[cfg(feature = "client")]
mod endpoint;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
mod page;
#[cfg(feature = "client")]
mod paginate;
#[cfg(feature = "client")]
mod params;
#[cfg(feature = "client")]
mod query;
#[cfg(feature = "client")]
pub mod retry;
#[cfg(feature = "client")]
mod retry_after;
#[cfg(feature = "client")]
mod time;
#[cfg(feature = "client")]
mod tracker;
#[cfg(feature = "client")]
mod transport;
#[cfg(feature = "client")]
mod undecodable;

#[cfg(feature = "client")]
pub use client::{CtsClient, CtsClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_REQUEST_TIMEOUT};
#[cfg(feature = "client")]
pub use endpoint::{ApiVersion, Endpoint};
#[cfg(feature = "client")]
pub use error::{ApiError, Error};
#[cfg(feature = "client")]
pub use page::TracePage;
#[cfg(feature = "client")]
pub use params::V2StatusParam;
#[cfg(feature = "client")]
pub use query::{TraceQuery, DEFAULT_TRACKER, MAX_LIMIT};
#[cfg(feature = "client")]
pub use retry::{RetryConfig, RetryDecision};
#[cfg(feature = "client")]
pub use time::EpochMillis;
#[cfg(feature = "client")]
pub use tracker::{LtsInfo, ObsInfo, Tracker};
#[cfg(feature = "client")]
pub use undecodable::UndecodableTrace;
