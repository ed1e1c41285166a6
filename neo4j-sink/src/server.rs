//! The HTTP surface: routes, the event handler and the status-code contract.
//!
//! [`app`] builds the router from an [`AppState`] and is separate from the
//! process wiring, so tests drive it directly or over a real socket. The
//! event handler applies the checks in a fixed order (method, credentials,
//! readiness, content type, size, decoding, queue room) and answers only
//! after every accepted event of the request has been committed.

use crate::auth::{Reason, Verifier};
use crate::batcher::{Batcher, Outcome, SubmitError};
use crate::decode::{content_mode, decode, Mode};
use crate::event::{EventRules, SinkEvent};
use crate::metrics::{outcome, Metrics};
use crate::problem::{EventError, Problem, RefusedEvent};
use crate::readiness::Readiness;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Limits and answers that do not change while running.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest body in bytes.
    pub max_body_bytes: usize,
    /// Request body bytes in flight at once (QUEUE_MAX_BYTES); holds one permit per byte.
    pub inflight_bytes: Arc<Semaphore>,
    /// Retry-After for 503.
    pub retry_after_unavailable: Duration,
    /// Retry-After for 429.
    pub retry_after_queue_full: Duration,
}

/// Everything the handlers share; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The group-commit queue.
    pub batcher: Batcher,
    /// Readiness state.
    pub readiness: Arc<Readiness>,
    /// Metrics.
    pub metrics: Metrics,
    /// Token checks, when authenticated delivery is on.
    pub verifier: Option<Arc<Verifier>>,
    /// Event rules.
    pub rules: Arc<EventRules>,
    /// Limits.
    pub limits: Limits,
}

/// The sink's router: `POST /`, `/healthz`, `/readyz`, `/metrics`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", post(ingest))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AppState>) -> Response {
    let report = state.readiness.report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => Problem::internal("metrics_failed", e.to_string()).into_response(),
    }
}

async fn method_not_allowed(OriginalUri(uri): OriginalUri) -> Problem {
    Problem::method_not_allowed(if uri.path() == "/" {
        "POST"
    } else {
        "GET, HEAD"
    })
}

async fn not_found(OriginalUri(uri): OriginalUri) -> Problem {
    Problem::not_found(uri.path())
}

async fn ingest(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut body = Some(body);
    let response = match handle(&state, &headers, &mut body).await {
        Ok(r) => r,
        Err(problem) => problem.into_response(),
    };
    if let Some(unread) = body.take() {
        // Read what the sender is still sending before answering early: closing
        // a socket with unread data resets the connection, and the sender would
        // see a reset instead of the answer (and retry a request that can never
        // succeed). Bounded, so a huge upload is cut off instead.
        drain(unread, drain_cap(state.limits.max_body_bytes)).await;
    }
    state
        .metrics
        .requests
        .with_label_values(&[response.status().as_str()])
        .inc();
    response
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &mut Option<Body>,
) -> Result<Response, Problem> {
    if let Some(verifier) = &state.verifier {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        verifier.verify(authorization).await.map_err(|e| {
            // Knative retries 503 and never 401/403: a key not loaded yet is 503.
            let retry_after = e
                .retry_after
                .unwrap_or(state.limits.retry_after_unavailable);
            match e.reason {
                Reason::Subject => Problem::forbidden(e.detail),
                Reason::UnknownKey => {
                    Problem::unavailable("auth_unknown_key", e.detail, retry_after)
                }
                Reason::KeysUnavailable => {
                    Problem::unavailable("auth_unavailable", e.detail, retry_after)
                }
                _ => Problem::unauthorized(e.detail),
            }
        })?;
    }
    if !state.readiness.accepts_events() {
        let report = state.readiness.report();
        let detail = if report.shutting_down {
            "the sink is shutting down".to_string()
        } else {
            format!(
                "the sink is not ready: Neo4j is not connected or the schema is not in place yet{}",
                report.error.map(|e| format!(" ({e})")).unwrap_or_default()
            )
        };
        return Err(Problem::unavailable(
            "not_ready",
            detail,
            state.limits.retry_after_unavailable,
        ));
    }
    let mode =
        content_mode(headers).inspect_err(|_| state.metrics.count_events(outcome::INVALID, 1))?;
    let limit = state.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n: usize| n > limit) {
        if declared.is_some_and(|n| n > drain_cap(limit)) {
            // Too big to drain: answer now; the connection will be closed.
            body.take();
        }
        return Err(Problem::too_large(limit));
    }
    // Bodies in flight are bounded in bytes too: events can be large, and a
    // count-only bound would not bound memory. The permit lives until the answer.
    let reserved_declared = declared.map(|n| reserve(state, n)).transpose()?;
    let Some(unread) = body.take() else {
        return Err(Problem::internal(
            "body_missing",
            "the request body was already consumed",
        ));
    };
    let bytes = read_body(unread, limit).await?;
    let reserved_read = match reserved_declared {
        None => Some(reserve(state, bytes.len())?),
        Some(_) => None,
    };
    // Held until the answer is built at the end of this function.
    let _budget = (reserved_declared, reserved_read);
    let decoded = decode(mode, headers, &bytes, &state.rules)
        .inspect_err(|_| state.metrics.count_events(outcome::INVALID, 1))?;
    let total = decoded.events.len();
    let mut refused = Vec::new();
    let mut accepted: Vec<(usize, SinkEvent)> = Vec::new();
    for (index, result) in decoded.events.into_iter().enumerate() {
        match result {
            Ok(event) => accepted.push((index, event)),
            Err(r) => refused.push(r),
        }
    }
    state.metrics.count_events(outcome::INVALID, refused.len());
    for (_, event) in &accepted {
        note_derived(state, event);
    }
    if decoded.mode != Mode::Batch && !refused.is_empty() {
        return Err(Problem::bad_event(refused.swap_remove(0).reason));
    }
    let (indices, events): (Vec<(usize, String)>, Vec<SinkEvent>) = accepted
        .into_iter()
        .map(|(i, e)| ((i, e.key.id.clone()), e))
        .unzip();
    let stored = commit(state, events).await?;
    for ((index, id), result) in indices.into_iter().zip(stored) {
        if let Outcome::Rejected(reason) = result {
            refused.push(RefusedEvent {
                index,
                id: Some(id),
                reason: EventError::new("rejected_by_store", reason),
            });
        }
    }
    if refused.is_empty() {
        return Ok((StatusCode::ACCEPTED, Json(json!({"stored": total}))).into_response());
    }
    refused.sort_by_key(|r| r.index);
    match decoded.mode {
        Mode::Batch => Err(Problem::refused_events(total, refused)),
        _ => Err(Problem::bad_event(refused.swap_remove(0).reason)),
    }
}

/// Set once the first placeholder context has been logged at WARN.
static PLACEHOLDER_WARNED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Counts and logs the context values of an accepted event that did not come
/// from our own extensions. A placeholder is logged at WARN once per process
/// (then DEBUG, like every derivation): the counter is the running record.
fn note_derived(state: &AppState, event: &SinkEvent) {
    for d in &event.derived {
        state.metrics.count_derived(*d);
    }
    if event.derived.is_empty() {
        return;
    }
    let ctx = &event.record.context;
    let derived: Vec<String> = event
        .derived
        .iter()
        .map(|d| format!("{}<-{}", d.field, d.from))
        .collect();
    let placeholder = event.derived.iter().any(|d| d.from == "placeholder");
    if placeholder && !PLACEHOLDER_WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            event_id = %event.key.id,
            trace_id = %event.key.trace_id,
            project = %ctx.project_id,
            region = %ctx.region,
            derived = ?derived,
            "an event without project or region context is stored under the placeholder \
             `unknown`; the sender should set the project and region extensions (this is \
             logged once; see neo4j_sink_context_derived_total)"
        );
    } else {
        tracing::debug!(
            event_id = %event.key.id,
            trace_id = %event.key.trace_id,
            project = %ctx.project_id,
            region = %ctx.region,
            derived = ?derived,
            "graph context derived"
        );
    }
}

/// Takes `n` bytes of the in-flight budget, or refuses with 429.
fn reserve(state: &AppState, n: usize) -> Result<tokio::sync::SemaphorePermit<'_>, Problem> {
    let permits = u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    state
        .limits
        .inflight_bytes
        .try_acquire_many(permits)
        .map_err(|_| {
            state.metrics.count_events(outcome::QUEUE_FULL, 1);
            Problem::queue_full(
                "the request bodies waiting for their commit already take the byte budget \
             (QUEUE_MAX_BYTES); retry later",
                state.limits.retry_after_queue_full,
            )
        })
}

/// Queues the events and waits for their commit. `Err` is the answer when
/// any event failed in a way the sender should retry (or that is the sink's fault).
async fn commit(state: &AppState, events: Vec<SinkEvent>) -> Result<Vec<Outcome>, Problem> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let n = events.len();
    let tickets = state.batcher.submit(events).map_err(|e| match e {
        SubmitError::QueueFull {
            needed, capacity, ..
        } if needed > capacity => Problem::too_large_batch(needed, capacity),
        SubmitError::QueueFull {
            depth, capacity, ..
        } => {
            state.metrics.count_events(outcome::QUEUE_FULL, n);
            Problem::queue_full(
                format!(
                    "{depth} of {capacity} queue places are taken (QUEUE_CAPACITY); retry later"
                ),
                state.limits.retry_after_queue_full,
            )
        }
        SubmitError::Closed => Problem::unavailable(
            "not_ready",
            "the sink is shutting down",
            state.limits.retry_after_unavailable,
        ),
    })?;
    let mut outcomes = Vec::with_capacity(n);
    for ticket in tickets {
        outcomes.push(ticket.await.unwrap_or_else(|_| {
            Outcome::Failed(crate::store::StoreError::Transient(
                "the write was abandoned".into(),
            ))
        }));
    }
    let failure = outcomes.iter().find_map(|o| match o {
        Outcome::Failed(e) if e.is_retryable() => Some(e),
        _ => None,
    });
    if let Some(e) = failure {
        return Err(Problem::unavailable(
            "neo4j_unavailable",
            format!("the events were not stored: {e}; retry later"),
            state.limits.retry_after_unavailable,
        ));
    }
    if let Some(Outcome::Failed(e)) = outcomes.iter().find(|o| matches!(o, Outcome::Failed(_))) {
        return Err(Problem::internal(
            "neo4j_error",
            format!("the events were not stored: {e}"),
        ));
    }
    Ok(outcomes)
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, Problem> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Problem::not_a_cloudevent(format!("reading the request body failed: {e}"))
        })?;
        if buf.len() + chunk.len() > limit {
            let seen = buf.len() + chunk.len();
            drop(buf);
            drain_stream(&mut stream, seen, drain_cap(limit)).await;
            return Err(Problem::too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// How much of a body the sink still reads (and discards) to answer a request
/// it refuses, as a multiple of `MAX_BODY_BYTES`. Closing a connection with
/// unread data resets it; a sender that sees the reset instead of the 413 (or
/// 400) retries a request that can never succeed, as Knative does for any
/// connection error. Reading is cheap (nothing is kept); past this bound the
/// connection is closed after the answer.
const DRAIN_FACTOR: usize = 16;

fn drain_cap(limit: usize) -> usize {
    limit.saturating_mul(DRAIN_FACTOR)
}

/// Reads and discards a body, stopping after `cap` bytes.
async fn drain(body: Body, cap: usize) {
    drain_stream(&mut body.into_data_stream(), 0, cap).await;
}

async fn drain_stream(stream: &mut axum::body::BodyDataStream, mut seen: usize, cap: usize) {
    while seen <= cap {
        match stream.next().await {
            Some(Ok(chunk)) => seen += chunk.len(),
            _ => return,
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
