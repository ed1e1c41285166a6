//! Routes outside the OTC API: ground truth for tests under `/_emulator/`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use super::errors::{cts_error, json_response};
use crate::state::{lock, now_ms, Shared};

type St = State<Arc<Shared>>;

/// `GET /_emulator/truth?project_id=<id or name>`: every trace id made
/// visible so far, in ingestion order, with their trace times
/// (`trace_times_ms`, the same order), plus the number still pending.
pub(crate) async fn truth(State(s): St, uri: Uri) -> Response {
    let key = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "project_id")
            .map(|(_, v)| v.into_owned())
    });
    let known = s
        .projects
        .iter()
        .map(|p| format!("{} ({})", p.info.id, p.info.name))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(key) = key else {
        return cts_error(
            StatusCode::BAD_REQUEST,
            "EMU.0001",
            format!("add ?project_id=<id or name>; projects: {known}"),
        );
    };
    let Some(p) = s.project_by_id_or_name(&key) else {
        return cts_error(
            StatusCode::NOT_FOUND,
            "EMU.0002",
            format!("unknown project `{key}`; projects: {known}"),
        );
    };
    let (ids, times, pending) = {
        let mut feed = lock(&p.feed);
        feed.catch_up(now_ms(), &p.store);
        let (ids, times) = match p.store.read() {
            Ok(st) => (st.ids(), st.times_ms()),
            Err(poisoned) => {
                let st = poisoned.into_inner();
                (st.ids(), st.times_ms())
            }
        };
        (ids, times, feed.pending())
    };
    let body = json!({
        "project_id": p.info.id,
        "project_name": p.info.name,
        "visible_count": ids.len(),
        "pending_count": pending,
        "trace_ids": ids,
        "trace_times_ms": times,
    });
    json_response(StatusCode::OK, body.to_string())
}
