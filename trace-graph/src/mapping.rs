//! The pure mapping from one CTS trace (plus its context) to one
//! [`GraphRow`]. No I/O, no clock, no randomness: the same input always
//! gives the same row, which is what the snapshot tests pin down.
//!
//! Decisions taken here (documented in <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/graph-model.md>):
//! - blank strings count as absent, and kept strings are trimmed;
//! - a trace without a user is performed by a per-domain, per-service
//!   *system principal* (`User {kind: "system", name: "system"}`);
//! - a trace without resource id and name has no `Resource` (no `APPLIED_ON`);
//! - the time is `time`, falling back to `record_time`; neither is an error;
//! - no value is too long: the writer stores a value longer than an index
//!   entry may hold in full and indexes a shortened form (`crate::indexed`),
//!   so the row keeps every value as the trace gave it.

use crate::error::RowError;
use crate::key;
use crate::model::{
    ActionNode, Channel, GraphRow, ResourceNode, TenantNode, TraceContext, UserKind, UserNode,
};
use cts_client::{Trace, TraceRating};
use serde_json::{Map, Value};

pub use crate::indexed::MAX_INDEXED_BYTES;

/// Maps one trace and its context to the row the writer stores.
///
/// Pure and total: every trace either maps or gives a [`RowError`] that
/// names the problem. See the crate documentation for the model.
pub fn map_trace(trace: &Trace, ctx: &TraceContext) -> Result<GraphRow, RowError> {
    let trace_id = trace.id().ok_or(RowError::MissingTraceId)?.to_owned();
    let project_id = clean(Some(&ctx.project_id)).ok_or_else(|| RowError::MissingContext {
        trace_id: trace_id.clone(),
        field: "project_id",
        extension: "tenant",
    })?;
    let region = clean(Some(&ctx.region)).ok_or_else(|| RowError::MissingContext {
        trace_id: trace_id.clone(),
        field: "region",
        extension: "region",
    })?;
    let time_ms = trace
        .time
        .or(trace.record_time)
        .ok_or_else(|| RowError::MissingTime {
            trace_id: trace_id.clone(),
        })?;

    let service = clean(trace.service_type.as_ref());
    let resource_type = clean(trace.resource_type.as_ref());
    let resource_id = clean(trace.resource_id.as_ref());
    let resource_name = clean(trace.resource_name.as_ref());
    let source_ip = clean(trace.source_ip.as_ref());
    let status = trace
        .trace_rating
        .as_ref()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let code = clean(trace.code.as_ref());
    let failed = matches!(
        trace.trace_rating,
        Some(TraceRating::Warning | TraceRating::Incident)
    ) || code
        .as_deref()
        .and_then(|c| c.parse::<u32>().ok())
        .is_some_and(|c| c >= 400);

    let ctx_domain_id = clean(ctx.domain_id.as_ref());
    let ctx_domain_name = clean(ctx.domain_name.as_ref());
    let tenant = TenantNode {
        project_id: project_id.clone(),
        region: region.clone(),
        domain_id: ctx_domain_id.clone(),
        domain_name: ctx_domain_name.clone(),
        name: clean(ctx.project_name.as_ref()),
    };

    let user = trace
        .user
        .as_ref()
        .and_then(|u| person(u, &ctx_domain_id, &ctx_domain_name))
        .unwrap_or_else(|| system_principal(service.as_deref(), &ctx_domain_id, &ctx_domain_name));
    let assumed_by = trace
        .user
        .as_ref()
        .and_then(|u| u.extra.get("assumedBy"))
        .and_then(|a| a.get("user"))
        .and_then(|v| serde_json::from_value::<cts_client::UserInfo>(v.clone()).ok())
        .and_then(|u| person(&u, &None, &None));

    let resource = resource_key(
        &project_id,
        &service,
        &resource_type,
        &resource_id,
        &resource_name,
    )
    .map(|key| ResourceNode {
        key,
        project_id: project_id.clone(),
        service: service.clone(),
        resource_type: resource_type.clone(),
        id: resource_id.clone(),
        name: resource_name.clone(),
    });

    let action = ActionNode {
        trace_id: trace_id.clone(),
        name: clean(trace.trace_name.as_ref()),
        trace_type: clean(trace.trace_type.as_ref()),
        channel: Channel::from_trace_type(trace.trace_type.as_deref()),
        status: status.clone(),
        failed,
        code,
        time_ms,
        record_time_ms: trace.record_time,
        api_version: clean(trace.api_version.as_ref()),
        request_id: clean(trace.request_id.as_ref()),
        source_ip: source_ip.clone(),
        service: service.clone(),
        resource_type,
        resource_id,
        resource_name,
        user_name: user.name.clone(),
        project_id,
        region,
        domain_id: user.domain_id.clone().or(ctx_domain_id),
        request: text(trace.request.as_ref()),
        response: text(trace.response.as_ref()),
        message: text(trace.message.as_ref()),
        location_info: clean(trace.location_info.as_ref()),
        endpoint: clean(trace.endpoint.as_ref()),
        resource_url: clean(trace.resource_url.as_ref()),
        extra: json_text(&trace.extra),
        user_extra: trace.user.as_ref().and_then(user_extra),
    };

    Ok(GraphRow {
        action,
        user,
        assumed_by,
        resource,
        tenant,
        status,
        service,
        source_ip,
    })
}

/// A trimmed, non-empty copy of the value.
fn clean(value: Option<&String>) -> Option<String> {
    value
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A named user, or `None` when the user object names nobody.
fn person(
    u: &cts_client::UserInfo,
    ctx_domain_id: &Option<String>,
    ctx_domain_name: &Option<String>,
) -> Option<UserNode> {
    let name = clean(u.name.as_ref());
    let id = clean(u.id.as_ref());
    let domain_id = clean(u.domain.as_ref().and_then(|d| d.id.as_ref())).or(ctx_domain_id.clone());
    let domain_name =
        clean(u.domain.as_ref().and_then(|d| d.name.as_ref())).or(ctx_domain_name.clone());
    let who = match (&name, &id) {
        (Some(n), _) => key::marked("name", n),
        (None, Some(i)) => key::marked("id", i),
        (None, None) => return None,
    };
    Some(UserNode {
        key: key::join(&[&domain_scope(&domain_id, &domain_name), &who]),
        name,
        id,
        domain_id,
        domain_name,
        kind: UserKind::User,
    })
}

/// The stand-in for "the service itself" when a trace names no user.
fn system_principal(
    service: Option<&str>,
    domain_id: &Option<String>,
    domain_name: &Option<String>,
) -> UserNode {
    UserNode {
        key: key::join(&[
            &domain_scope(domain_id, domain_name),
            &key::marked("system", service.unwrap_or("")),
        ]),
        name: Some("system".to_owned()),
        id: None,
        domain_id: domain_id.clone(),
        domain_name: domain_name.clone(),
        kind: UserKind::System,
    }
}

/// The domain part of a user key: the domain id, else `name:<domain name>`, else empty.
fn domain_scope(domain_id: &Option<String>, domain_name: &Option<String>) -> String {
    match (domain_id, domain_name) {
        (Some(id), _) => key::escape(id),
        (None, Some(name)) => key::marked("name", name),
        (None, None) => String::new(),
    }
}

/// `<project>/<service>/<type>/id:<id>`, else `…/name:<name>`, else no resource.
fn resource_key(
    project: &str,
    service: &Option<String>,
    resource_type: &Option<String>,
    id: &Option<String>,
    name: &Option<String>,
) -> Option<String> {
    let who = match (id, name) {
        (Some(i), _) => key::marked("id", i),
        (None, Some(n)) => key::marked("name", n),
        (None, None) => return None,
    };
    Some(key::join(&[
        &key::escape(project),
        &key::escape(service.as_deref().unwrap_or("")),
        &key::escape(resource_type.as_deref().unwrap_or("")),
        &who,
    ]))
}

/// A raw JSON value as text: strings as they are, anything else as JSON.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn json_text(map: &Map<String, Value>) -> Option<String> {
    (!map.is_empty()).then(|| Value::Object(map.clone()).to_string())
}

/// Unknown user fields, plus unknown domain fields under `domain`.
fn user_extra(u: &cts_client::UserInfo) -> Option<String> {
    let mut extra = u.extra.clone();
    if let Some(d) = u.domain.as_ref().filter(|d| !d.extra.is_empty()) {
        extra.insert("domain".to_owned(), Value::Object(d.extra.clone()));
    }
    json_text(&extra)
}
