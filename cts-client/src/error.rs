//! The one error type of the crate.
//!
//! Every failure a caller can act on has its own variant: bad input
//! (query, endpoint, configuration), credentials rejected, throttling,
//! server faults, a body that is not what CTS documents, and network
//! trouble. Retry decisions ([`crate::retry::classify`]) and callers both
//! match on these variants, so they carry the HTTP status, the CTS/APIG
//! error code and message, and never a credential.

use std::fmt;
use std::time::Duration;

/// What CTS (or the API gateway in front of it) said in an error response.
///
/// CTS answers `{"error_code": "CTS.0300", "error_msg": "..."}`; the API
/// gateway answers `{"error_code": "APIG.0301", "error_msg": "...",
/// "request_id": "..."}`; IAM-style bodies `{"error": {"message": ...}}`
/// are understood too. When the body is none of these, `message` holds a
/// short snippet of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status code of the response.
    pub status: u16,
    /// `error_code`, e.g. `CTS.0300` or `APIG.0301`, when the body had one.
    pub code: Option<String>,
    /// `error_msg` (or a snippet of a body that was not a CTS error body).
    pub message: Option<String>,
    /// `request_id` from the body or the `X-Request-Id` header, for support tickets.
    pub request_id: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => write!(f, ", {c}: {m}")?,
            (Some(c), None) => write!(f, ", {c}")?,
            (None, Some(m)) => write!(f, ": {m}")?,
            (None, None) => {}
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong when talking to CTS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A [`crate::TraceQuery`] field has a value CTS would reject or misread.
    #[error("invalid trace query: `{field}` {problem}")]
    InvalidQuery {
        /// The offending field, e.g. `limit`.
        field: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },

    /// The CTS endpoint URL cannot be used to build request URLs.
    #[error("invalid CTS endpoint {url:?}: {problem}")]
    InvalidEndpoint {
        /// The URL as given.
        url: String,
        /// What is wrong and an example of a good value.
        problem: String,
    },

    /// A client setting (retry, timeout, ...) is out of range.
    #[error("invalid CTS client configuration: `{setting}` {problem}")]
    InvalidConfig {
        /// The setting, e.g. `retry.multiplier`.
        setting: &'static str,
        /// What is wrong and what is allowed.
        problem: String,
    },

    /// otc-auth failed: the cloud configuration could not be loaded, or the
    /// authorizer could not produce credentials (IAM unreachable, wrong
    /// password, ...).
    ///
    /// Every [`otc_auth::Error`] converts into this variant, so one `?`
    /// works along the whole path from [`otc_auth::load_cloud`] to a trace
    /// list, with `cts_client::Error` as the only error type.
    #[error("OTC authentication failed: {0}")]
    Auth(#[source] otc_auth::Error),

    /// CTS rejected the credentials, also after one re-authentication.
    #[error(
        "CTS rejected the credentials ({0}) even after re-authenticating; \
         check the user/password or AK/SK, the project and the system clock"
    )]
    Unauthorized(ApiError),

    /// The credentials are valid but lack the permission (HTTP 403).
    #[error("CTS refused the request ({0}); the user needs the CTS read role (e.g. CTS ReadOnlyAccess) in this project")]
    Forbidden(ApiError),

    /// The tracker, trace or API path does not exist (HTTP 404).
    #[error(
        "CTS found nothing at this path ({0}); check the tracker name, project id and API version"
    )]
    NotFound(ApiError),

    /// CTS rejected the query (HTTP 400 or another 4xx not listed above).
    #[error("CTS rejected the request as invalid ({0})")]
    BadRequest(ApiError),

    /// Too many requests (HTTP 429); `retry_after` is the server's `Retry-After`.
    #[error("CTS is throttling requests ({error}){}", retry_after_text(.retry_after))]
    Throttled {
        /// The status, code and message of the response.
        error: ApiError,
        /// How long the server asked to wait, when it said so.
        retry_after: Option<Duration>,
    },

    /// CTS failed internally or is unavailable (HTTP 5xx).
    #[error("CTS server error ({0})")]
    ServerError(ApiError),

    /// A status this client does not expect from CTS (1xx, 3xx).
    #[error("unexpected HTTP status from CTS ({0}); redirects are not followed on purpose")]
    UnexpectedStatus(ApiError),

    /// The response body is not what CTS documents.
    #[error("could not decode {what}: {problem}; the body starts with: {snippet}")]
    Decode {
        /// What was being decoded, e.g. `the trace list from GET /v3/{project}/traces`.
        what: String,
        /// The problem, e.g. `the body was cut off (EOF while parsing ...)`.
        problem: String,
        /// The first part of the body (or the part around the error), quoted.
        snippet: String,
    },

    /// The connection could not be made or broke (DNS, TCP, TLS, reset).
    #[error("network error talking to CTS at {url}: {message}")]
    Transport {
        /// The URL requested (no credentials in it).
        url: String,
        /// The underlying error chain, flattened to text.
        message: String,
        /// Whether the connection could not be established at all.
        connect: bool,
    },

    /// The request did not complete within the configured per-request timeout.
    #[error("CTS did not answer within {after:?} ({url}); raise the request timeout or check the network")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The per-request timeout in force.
        after: Duration,
    },

    /// The server returned a `marker` that was already followed, which would
    /// make pagination loop forever.
    #[error(
        "CTS pagination loops: page {page} returned marker {marker:?}, which was already \
         followed; stopping instead of fetching the same pages again"
    )]
    MarkerLoop {
        /// The repeated marker.
        marker: String,
        /// The 1-based number of the page that repeated it.
        page: usize,
    },

    /// A trace in a page could not be read by the [`crate::Trace`] model;
    /// [`crate::CtsClient::traces`] ends with this instead of skipping it.
    /// [`crate::CtsClient::pages`] never yields it: there such traces are
    /// in [`crate::TracePage::undecodable`].
    #[error("CTS sent a trace this client cannot read: {0}")]
    UndecodableTrace(Box<crate::UndecodableTrace>),

    /// A follower's checkpoint file exists but cannot be read
    /// (`cts_client::follow::FileCheckpoint`).
    #[error("cannot read the state file {}: {source}", path.display())]
    CheckpointRead {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },

    /// A follower's checkpoint file is not a state file of this version.
    #[error("the state file {} is not valid ({problem}); repair it or delete it (a follower without a saved position starts its look-back before now; for cts-exporter that is CTS_FROM minutes back)", path.display())]
    CheckpointInvalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        problem: String,
    },

    /// Saving a follower's checkpoint failed.
    #[error("cannot save the state file {}: {source}", path.display())]
    CheckpointWrite {
        /// The file.
        path: std::path::PathBuf,
        /// What the system said.
        source: std::io::Error,
    },

    /// A caller's own `cts_client::follow::Checkpoint` failed.
    #[error("the checkpoint store failed: {0}")]
    Checkpoint(String),
}

impl From<otc_auth::Error> for Error {
    fn from(e: otc_auth::Error) -> Error {
        Error::Auth(e)
    }
}

fn retry_after_text(d: &Option<Duration>) -> String {
    match d {
        Some(d) => format!("; the server asked to retry after {d:?}"),
        None => String::new(),
    }
}

impl Error {
    /// The HTTP status of the response, for errors that came from one.
    pub fn status(&self) -> Option<u16> {
        self.api_error().map(|e| e.status)
    }

    /// The parsed error response, for errors that came from one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Unauthorized(e)
            | Error::Forbidden(e)
            | Error::NotFound(e)
            | Error::BadRequest(e)
            | Error::ServerError(e)
            | Error::UnexpectedStatus(e)
            | Error::Throttled { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> ApiError {
        ApiError {
            status,
            code: Some("CTS.0300".into()),
            message: Some("Query failed.".into()),
            request_id: Some("r-1".into()),
        }
    }

    #[test]
    fn display_names_status_code_and_message() {
        let e = Error::BadRequest(api(400));
        let s = e.to_string();
        assert!(
            s.contains("HTTP 400, CTS.0300: Query failed. (request id r-1)"),
            "{s}"
        );
        assert_eq!(e.status(), Some(400));
    }

    #[test]
    fn throttled_mentions_retry_after() {
        let e = Error::Throttled {
            error: api(429),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert!(e.to_string().contains("retry after 7s"), "{e}");
        let e = Error::Throttled {
            error: api(429),
            retry_after: None,
        };
        assert!(!e.to_string().contains("retry after"), "{e}");
    }

    #[test]
    fn api_error_without_code() {
        let e = ApiError {
            status: 502,
            code: None,
            message: None,
            request_id: None,
        };
        assert_eq!(e.to_string(), "HTTP 502");
        assert_eq!(
            Error::MarkerLoop {
                marker: "m".into(),
                page: 3
            }
            .status(),
            None
        );
    }
}
