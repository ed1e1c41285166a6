//! Typed client for the Open Telekom Cloud Cloud Trace Service (CTS).
//!
//! The [`Trace`] model is always available. The HTTP client (feature
//! `client`, on by default) adds the trace-list APIs (v1.0, v2.0, v3) with
//! every filter, a paginating [`futures::Stream`] that follows `marker` →
//! `next`, the tracker APIs, typed errors and retries with jittered
//! back-off. Crates that only need the model depend on this one with
//! `default-features = false` and get no network dependencies.
//!
//! Feature `follow` (on by default) adds [`follow`]: following a tracker
//! without gaps (overlapping windows, de-duplication, a watermark saved
//! through a [`follow::Checkpoint`]), the engine cts-exporter runs on.
//! Feature `archive` (on by default) adds [`archive`]: reading CTS archive
//! files of the OBS layout.
//!
//! Credentials come from [`otc_auth`]: anything implementing
//! [`otc_auth::RequestAuthorizer`] (a static token, AK/SK signing, or the
//! full IAM [`otc_auth::AuthProvider`]).
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # async fn run() -> Result<(), cts_client::Error> {
//! use std::sync::Arc;
//! use futures::TryStreamExt;
//! use cts_client::{CtsClient, Endpoint, TraceQuery};
//! use otc_auth::{Secret, StaticToken};
//!
//! let endpoint = Endpoint::from_catalog_url(
//!     "https://cts.eu-de.otc.t-systems.com/v1.0/0391e4486e864c26be5654c522f440f2",
//! )?;
//! let auth = Arc::new(StaticToken::new(Secret::new("token from IAM")));
//! let client = CtsClient::builder(endpoint, auth).build()?; // v3 by default
//!
//! let now = 1_700_003_600_000;
//! let query = TraceQuery::new().window_ms(now - 3_600_000, now).limit(200).service_type("ECS");
//! let mut traces = std::pin::pin!(client.traces(query));
//! while let Some(trace) = traces.try_next().await? {
//!     println!("{:?} {:?}", trace.trace_name, trace.user.and_then(|u| u.name));
//! }
//! # Ok(())
//! # }
//! ```
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
    not(all(feature = "client", feature = "follow", feature = "archive")),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod trace;

#[cfg(feature = "archive")]
pub mod archive;
#[cfg(feature = "follow")]
pub mod follow;

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
pub use tracker::{LtsInfo, ObsInfo, Tracker};
#[cfg(feature = "client")]
pub use undecodable::UndecodableTrace;
