//! The three error body styles of cts-api.md: CTS (`error_code`/`error_msg`),
//! API Gateway (`APIG.0301`-style, with `request_id`) and Keystone
//! (`{"error":{"message","code","title"}}`).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A fresh request id (32 hex digits), as OTC puts in `X-Request-Id`.
pub(crate) fn request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A JSON response with the given status and pre-serialized body.
pub(crate) fn json_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

/// `{"error_code": "CTS.xxxx", "error_msg": "..."}`.
pub(crate) fn cts_error(status: StatusCode, code: &str, msg: impl Into<String>) -> Response {
    let body = json!({"error_code": code, "error_msg": msg.into()});
    json_response(status, body.to_string())
}

/// `{"error_msg": "...", "error_code": "APIG.0301", "request_id": "..."}`.
pub(crate) fn apig_error(status: StatusCode, code: &str, msg: impl Into<String>) -> Response {
    let body = json!({"error_msg": msg.into(), "error_code": code, "request_id": request_id()});
    json_response(status, body.to_string())
}

/// Keystone-style IAM error.
pub(crate) fn keystone_error(status: StatusCode, msg: impl Into<String>) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = json!({"error": {"message": msg.into(), "code": status.as_u16(), "title": title}});
    json_response(status, body.to_string())
}

/// 429 with `Retry-After` (injected throttling, API Gateway style).
pub(crate) fn throttled(retry_after_secs: u64) -> Response {
    let mut r = apig_error(
        StatusCode::TOO_MANY_REQUESTS,
        "APIG.0308",
        "The throttling threshold has been reached: policy user over ratelimit",
    );
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r.into_response()
}
