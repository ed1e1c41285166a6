#![doc = include_str!("../README.md")]
//!
//! # Modules
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
