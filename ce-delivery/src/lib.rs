//! Delivers CloudEvents to a Knative sink, for any event source written in Rust.
//!
//! A Knative source (a ContainerSource or a SinkBinding subject) gets its sink
//! URL in `K_SINK`, CloudEvent overrides in `K_CE_OVERRIDES`, perhaps a CA
//! bundle in `K_CA_CERTS` and an OIDC token file; it must POST each event and
//! retry it until the sink acknowledges it. This crate is that part, and
//! nothing of where the events come from:
//!
//! - [`overrides`] parses `K_CE_OVERRIDES` (a value passed in: the crate never
//!   reads the environment) into extensions to set on every event;
//! - [`encoding`] writes an event in HTTP binary mode (percent-encoded `ce-*`
//!   headers, CloudEvents HTTP binding 1.0.2 §3.1.3.2), structured mode, or a
//!   batch (`application/cloudevents-batch+json`, JSON format 1.0.2);
//! - [`transport`] makes one attempt: an HTTP POST ([`HttpTransport`], with the
//!   OIDC bearer token of [`token`]) or a line on stdout ([`PrintTransport`]);
//! - [`retry`] classifies an answer (done, retry after a pause, refused for
//!   good) the way Knative's own delivery does, and holds the back-off;
//! - [`pipeline`] runs deliveries with bounded concurrency, retries each event
//!   (or batch) until it is acknowledged or refused, and hands back one
//!   [`Completion`] per event; in batch mode a refused batch is sent again
//!   one event at a time, so only the bad event is refused;
//! - [`dead_letter`] appends refused events to an NDJSON file.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use ce_delivery::{
//!     random_jitter, sink_retry, Batching, HttpConfig, HttpTransport, Outcome, Overrides,
//!     Pipeline,
//! };
//! use cloudevents::{EventBuilder, EventBuilderV10};
//!
//! # async fn run() -> Result<(), ce_delivery::Error> {
//! let overrides = Overrides::parse(r#"{"extensions":{"team":"ops"}}"#)?;
//! let sink = url::Url::parse("http://broker-ingress.knative-eventing.svc/ns/default").expect("url");
//! let transport = Arc::new(HttpTransport::new(&HttpConfig::new(sink))?);
//! let retry = sink_retry(
//!     std::time::Duration::from_millis(200),
//!     std::time::Duration::from_secs(30),
//! );
//! let mut pipeline = Pipeline::new(transport, retry, 16, random_jitter())
//!     .with_batching(Some(Batching::new(100, std::time::Duration::from_millis(200))));
//! let mut builder = EventBuilderV10::new()
//!     .id("1")
//!     .source("urn:example")
//!     .ty("com.example.thing");
//! for (name, value) in &overrides.extensions {
//!     builder = builder.extension(name, value.as_str());
//! }
//! let event = builder.build().expect("a valid event");
//! pipeline.submit("1".into(), 0, event).await;
//! pipeline.drain().await;
//! for done in pipeline.take_done() {
//!     if let Outcome::Rejected { reason, .. } = done.outcome {
//!         eprintln!("{} refused: {reason}", done.id);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The crate logs at debug level only; what an operator should see (a retry,
//! a batch sent again one by one) reaches the caller through an [`Observer`].
#![deny(missing_docs)]

use std::path::PathBuf;

pub mod dead_letter;
pub mod encoding;
pub mod overrides;
pub mod pipeline;
pub mod retry;
pub mod token;
pub mod transport;

pub use cloudevents;
pub use dead_letter::DeadLetter;
pub use overrides::Overrides;
pub use pipeline::{
    random_jitter, Batching, Completion, Jitter, Observer, Outcome, Pipeline, Quiet,
};
pub use retry::{sink_retry, RetryPolicy, Verdict};
pub use token::{Secret, TokenFile};
pub use transport::{
    parse_sink_url, read_ca_bundle, ContentMode, HttpConfig, HttpTransport, PrintTransport,
    Transport,
};

/// Everything that can go wrong in this crate. Messages name the problem and
/// the fix, and never contain a token or a URL password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `K_CE_OVERRIDES` is not the JSON Knative passes, or names an invalid
    /// or reserved extension. Permanent: fix the value.
    #[error("{problem}")]
    Overrides {
        /// What is wrong, an example of a valid value and what was given.
        problem: String,
    },
    /// A Knative setting (`K_SINK`, `K_CA_CERTS`) is not usable. Permanent:
    /// the message names the value and an example; the caller adds the
    /// setting's name.
    #[error("{problem}")]
    Setting {
        /// What is wrong, an example and what was given.
        problem: String,
    },
    /// The HTTP client could not be built (a CA bundle without a valid
    /// certificate, or the TLS backend failed). Permanent.
    #[error("cannot build the sink's HTTP client: {problem}")]
    Client {
        /// What is wrong.
        problem: String,
    },
    /// An event could not be written in the requested form.
    #[error("cannot encode the event: {problem}")]
    Encode {
        /// What the JSON serializer said.
        problem: String,
    },
    /// The dead-letter file could not be opened, read or written.
    #[error("dead-letter file {}: {source}", path.display())]
    DeadLetter {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Encode {
            problem: e.to_string(),
        }
    }
}
