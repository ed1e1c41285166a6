//! Every error answer the sink gives, in one place.
//!
//! Knative retries 5xx, 404, 408, 409 and 429 and never retries any other
//! 4xx, so the status code is a promise: a 400 says "this can never succeed,
//! drop it", a 503 or 429 says "try again after `Retry-After`". Keeping the
//! answers in one type makes that contract reviewable (docs/sink.md lists it)
//! and keeps every error body the same shape:
//! `{"error": <code>, "detail": <text>}`, plus `events` for batch requests.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::time::Duration;

/// Why one event of a request cannot be stored, ever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventError {
    /// Machine-readable reason, e.g. `unknown_type`.
    pub error: &'static str,
    /// What is wrong and how to fix it.
    pub detail: String,
}

impl EventError {
    /// Builds an event error.
    pub fn new(error: &'static str, detail: impl Into<String>) -> Self {
        EventError {
            error,
            detail: detail.into(),
        }
    }
}

/// One refused event of a batch-mode request, for the `events` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedEvent {
    /// Position in the batch (0-based).
    pub index: usize,
    /// The event id, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The reason.
    #[serde(flatten)]
    pub reason: EventError,
}

/// An error answer: status, JSON body and maybe `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable reason.
    pub error: &'static str,
    /// Human-readable explanation.
    pub detail: String,
    /// `Retry-After` to send, for 429 and 503.
    pub retry_after: Option<Duration>,
    /// Refused events of a batch request.
    pub events: Vec<RefusedEvent>,
    /// `Allow` header value, for 405.
    pub allow: Option<&'static str>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[RefusedEvent]>::is_empty")]
    events: &'a [RefusedEvent],
}

impl Problem {
    fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            error,
            detail: detail.into(),
            retry_after: None,
            events: Vec::new(),
            allow: None,
        }
    }

    /// 400: the event (or request) can never be stored.
    pub fn bad_event(reason: EventError) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, reason.error, reason.detail)
    }

    /// 400: the request is not a CloudEvent at all.
    pub fn not_a_cloudevent(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "not_a_cloudevent", detail)
    }

    /// 400 for a batch request with refused events (the others were stored).
    pub fn refused_events(total: usize, events: Vec<RefusedEvent>) -> Self {
        let refused = events.len();
        let detail = format!(
            "{refused} of {total} events can never be stored and were dropped; the other {} \
             were stored; see `events`",
            total - refused
        );
        Problem {
            events,
            ..Problem::new(StatusCode::BAD_REQUEST, "invalid_events", detail)
        }
    }

    /// 413: the body is over the limit.
    pub fn too_large(limit: usize) -> Self {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than the limit of {limit} bytes (MAX_BODY_BYTES)"),
        )
    }

    /// 413: a batch with more events than the queue can ever hold.
    pub fn too_large_batch(events: usize, capacity: usize) -> Self {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!(
                "the batch holds {events} events, more than the queue capacity of {capacity} (QUEUE_CAPACITY); \
                 send smaller batches"
            ),
        )
    }

    /// 415: the content type is not one the sink reads.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_type",
            detail,
        )
    }

    /// 405 with the allowed methods.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Problem {
            allow: Some(allow),
            ..Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("this path accepts {allow}"),
            )
        }
    }

    /// 404 for a path the sink does not serve (a misconfigured sender, not a bad event).
    pub fn not_found(path: &str) -> Self {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such path {path:?}; events go to POST /, probes are /healthz, /readyz, /metrics"),
        )
    }

    /// 503: not ready or Neo4j unavailable; the sender should retry.
    pub fn unavailable(
        error: &'static str,
        detail: impl Into<String>,
        retry_after: Duration,
    ) -> Self {
        Problem {
            retry_after: Some(retry_after),
            ..Problem::new(StatusCode::SERVICE_UNAVAILABLE, error, detail)
        }
    }

    /// 429: the queue is full; the sender should retry.
    pub fn queue_full(detail: impl Into<String>, retry_after: Duration) -> Self {
        Problem {
            retry_after: Some(retry_after),
            ..Problem::new(StatusCode::TOO_MANY_REQUESTS, "queue_full", detail)
        }
    }

    /// 500: a failure that is the server's, not the event's.
    pub fn internal(error: &'static str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, error, detail)
    }

    /// 401: no or invalid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403: valid credentials of a sender that is not allowed.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.error,
            detail: &self.detail,
            events: &self.events,
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(after) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_whole_seconds_and_at_least_one() {
        let r = Problem::unavailable("neo4j_unavailable", "down", Duration::from_millis(200))
            .into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = Problem::queue_full("full", Duration::from_secs(7)).into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn refused_events_detail_counts() {
        let p = Problem::refused_events(
            3,
            vec![RefusedEvent {
                index: 1,
                id: None,
                reason: EventError::new("unknown_type", "x"),
            }],
        );
        assert_eq!(p.status, StatusCode::BAD_REQUEST);
        assert!(
            p.detail.contains("1 of 3") && p.detail.contains("other 2"),
            "{}",
            p.detail
        );
    }
}
