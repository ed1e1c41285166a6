//! The CTS routes: trace lists (v1.0, v2.0, v3) and trackers (v1.0 get,
//! v3 list), each behind authentication, the project check and fault
//! injection. Pages are assembled from the stored JSON bytes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::{authenticate, check_project};
use super::errors::{cts_error, json_response, throttled};
use super::query::{parse, ApiVersion};
use crate::faults::Fault;
use crate::ids::hex_id;
use crate::state::{now_ms, ProjectState, Shared};
use crate::store::ProjectStore;
use crate::V2StatusField;

type St = State<Arc<Shared>>;

/// Authentication, project check and injected faults, in that order.
async fn guard<'a>(
    shared: &'a Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    pid: &str,
) -> Result<&'a ProjectState, Response> {
    let principal = authenticate(shared, method, uri, headers, b"").map_err(|e| e.to_apig())?;
    check_project(shared, &principal, pid)?;
    let (fault, slow) = shared.faults.draw();
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    match fault {
        Fault::None => {}
        Fault::RateLimited { retry_after_secs } => return Err(throttled(retry_after_secs)),
        Fault::ServerError => {
            return Err(cts_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "CTS.0005",
                "Failed to read data.",
            ))
        }
    }
    shared.project(pid).ok_or_else(|| {
        cts_error(
            StatusCode::NOT_FOUND,
            "CTS.0002",
            format!("project {pid} not found"),
        )
    })
}

fn tracker_missing(name: &str) -> Response {
    cts_error(
        StatusCode::NOT_FOUND,
        "CTS.0214",
        format!("The tracker does not exist: `{name}` (the only management tracker is `system`)."),
    )
}

pub(crate) async fn list_v1(
    State(s): St,
    Path((pid, tracker)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    list(
        &s,
        ApiVersion::V1,
        &pid,
        Some(&tracker),
        &method,
        &uri,
        &headers,
    )
    .await
}

pub(crate) async fn list_v2(
    State(s): St,
    Path((pid, tracker)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    list(
        &s,
        ApiVersion::V2,
        &pid,
        Some(&tracker),
        &method,
        &uri,
        &headers,
    )
    .await
}

pub(crate) async fn list_v3(
    State(s): St,
    Path(pid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    list(&s, ApiVersion::V3, &pid, None, &method, &uri, &headers).await
}

async fn list(
    s: &Shared,
    version: ApiVersion,
    pid: &str,
    tracker: Option<&str>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let project = match guard(s, method, uri, headers, pid).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(t) = tracker.filter(|t| *t != "system") {
        return tracker_missing(t);
    }
    let now = now_ms();
    let mut req = match parse(version, uri.query(), now) {
        Ok(r) => r,
        Err(e) => return cts_error(StatusCode::BAD_REQUEST, e.code, e.msg),
    };
    crate::state::lock(&project.feed).catch_up(now, &project.store);
    let store = match project.store.read() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let status_as_trace_status =
        version == ApiVersion::V2 && s.cfg.v2_status_field == V2StatusField::TraceStatus;
    // `next` narrows every query, a `trace_id` query too: with a marker on
    // the last page, following it must end (an empty page), not repeat.
    if let Some(next) = &req.next {
        match store.get(next) {
            Some(t) => req.page.before_record_time = Some(t.record_time),
            None => {
                return cts_error(
                    StatusCode::BAD_REQUEST,
                    "CTS.0300",
                    format!("Query failed. `next` must be the marker (a trace_id) of a previous page of this project; `{next}` is unknown."),
                )
            }
        }
    }
    let (items, more) = if req.data_traces {
        (Vec::new(), false)
    } else if let Some(id) = &req.trace_id {
        // "If trace_id is specified, other query criteria will not take effect."
        let hit = store
            .get(id)
            .filter(|t| t.time >= now - super::query::RETENTION_MS)
            .filter(|t| {
                req.page
                    .before_record_time
                    .is_none_or(|before| t.record_time < before)
            });
        (
            hit.map(|t| {
                (
                    t.trace_id.clone(),
                    ProjectStore::bytes(t, status_as_trace_status),
                )
            })
            .into_iter()
            .collect(),
            false,
        )
    } else {
        let page = store.page(&req.page, status_as_trace_status);
        (page.items, page.more)
    };
    drop(store);
    let marker = match items.last() {
        Some((id, _)) if more || s.cfg.marker_on_last_page => Value::String(id.to_string()),
        _ => Value::Null,
    };
    let mut body = Vec::with_capacity(64 + items.iter().map(|(_, b)| b.len() + 1).sum::<usize>());
    body.extend_from_slice(b"{\"meta_data\":");
    body.extend_from_slice(
        json!({"count": items.len(), "marker": marker})
            .to_string()
            .as_bytes(),
    );
    body.extend_from_slice(b",\"traces\":[");
    for (i, (_, bytes)) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(bytes);
    }
    body.extend_from_slice(b"]}");
    json_response(StatusCode::OK, body)
}

fn tracker_json(s: &Shared, project: &ProjectState) -> Value {
    let p = &project.info;
    let bucket = format!("cts-{}-{}", p.name.replace('_', "-"), &p.id[..6]);
    json!({
        "id": hex_id(s.cfg.seed, &["tracker", &p.id]),
        "create_time": 1_577_836_800_000_i64,
        "is_support_validate": false,
        "tracker_type": "system",
        "domain_id": s.domain.id,
        "project_id": p.id,
        "tracker_name": "system",
        "status": "enabled",
        "lts": {"is_lts_enabled": false, "log_group_name": "CTS", "log_topic_name": "system-trace"},
        "obs_info": {
            "bucket_name": bucket,
            "file_prefix_name": "cts",
            "is_obs_created": true,
            "is_authorized_bucket": true,
            "bucket_lifecycle": 30,
            "compress_type": "gzip",
            "is_sort_by_service": true,
            "bucket_location": p.region,
        },
    })
}

fn tracker_param(uri: &Uri) -> Option<String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "tracker_name")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

pub(crate) async fn trackers_v3(
    State(s): St,
    Path(pid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let project = match guard(&s, &method, &uri, &headers, &pid).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let trackers: Vec<Value> = match tracker_param(&uri) {
        Some(name) if name != "system" => Vec::new(),
        _ => vec![tracker_json(&s, project)],
    };
    json_response(StatusCode::OK, json!({"trackers": trackers}).to_string())
}

pub(crate) async fn tracker_v1(
    State(s): St,
    Path(pid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let project = match guard(&s, &method, &uri, &headers, &pid).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(name) = tracker_param(&uri).filter(|n| n != "system") {
        return tracker_missing(&name);
    }
    let mut t = tracker_json(&s, project);
    // v1.0 flattens the OBS settings into the tracker object.
    if let Some(obs) = t.as_object_mut().and_then(|o| o.remove("obs_info")) {
        t["bucket_name"] = obs["bucket_name"].clone();
        t["file_prefix_name"] = obs["file_prefix_name"].clone();
        t["is_obs_created"] = obs["is_obs_created"].clone();
    }
    json_response(StatusCode::OK, t.to_string())
}
