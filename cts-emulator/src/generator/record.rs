//! The generated trace as a typed value, before it is written as JSON in
//! one of the wire shapes (see `render`).

use serde_json::Value;

use crate::ids::DomainInfo;

/// Outcome of an audited operation (`trace_rating`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rating {
    /// The operation succeeded.
    Normal,
    /// The operation failed.
    Warning,
    /// The failure had serious consequences.
    Incident,
}

impl Rating {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Normal => "normal",
            Rating::Warning => "warning",
            Rating::Incident => "incident",
        }
    }
}

/// How the operation was triggered (`trace_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceType {
    /// An API call (SDK, CLI, Terraform).
    ApiCall,
    /// An action in the web console.
    ConsoleAction,
    /// An action of the platform itself, without user or source IP.
    SystemAction,
}

impl TraceType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceType::ApiCall => "ApiCall",
            TraceType::ConsoleAction => "ConsoleAction",
            TraceType::SystemAction => "SystemAction",
        }
    }
}

/// The user who performed an operation, as written into `user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceUser {
    /// User id.
    pub id: String,
    /// User name.
    pub name: String,
    /// The user's domain.
    pub domain: DomainInfo,
}

/// One generated trace, independent of the JSON shape it is written in.
/// `record_time` is not part of it: the emulator assigns it at ingestion.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRecord {
    /// UUID-shaped trace id.
    pub trace_id: String,
    /// Operation name, e.g. `createServer`.
    pub trace_name: String,
    /// Outcome.
    pub rating: Rating,
    /// How it was triggered.
    pub trace_type: TraceType,
    /// Service acronym, e.g. `ECS`.
    pub service_type: String,
    /// Resource type, e.g. `ecs`.
    pub resource_type: String,
    /// Resource id.
    pub resource_id: String,
    /// Resource name.
    pub resource_name: String,
    /// Acting user; `None` for system actions.
    pub user: Option<TraceUser>,
    /// The real person behind an agency session (`user.assumedBy.user`), if any.
    pub assumed_by: Option<TraceUser>,
    /// Source IP; `None` for system actions.
    pub source_ip: Option<String>,
    /// Request id of the audited call.
    pub request_id: String,
    /// HTTP status of the audited call.
    pub code: u16,
    /// API version of the audited call.
    pub api_version: String,
    /// Request body of the audited call, if any.
    pub request: Option<Value>,
    /// Response body of the audited call, if any.
    pub response: Option<Value>,
    /// Endpoint the call went to (console URL or API host).
    pub endpoint: Option<String>,
    /// Path of the resource.
    pub resource_url: String,
    /// Extra location hint on some failures.
    pub location_info: Option<String>,
    /// When the operation happened (epoch ms).
    pub time: i64,
}
