//! The rows the mapping produces and the writer stores: one plain Rust
//! value per node, with the property names Neo4j will hold.
//!
//! These types know nothing of Neo4j. They serialize (camelCase) to exactly
//! the property maps the writer sends, which is what the snapshot tests show,
//! so a snapshot is a faithful picture of what lands in the graph. The one
//! exception is a key or indexed value longer than 4096 bytes: the row holds
//! it whole, and the writer stores it whole in `<property>Full` and indexes a
//! shortened form ([`crate::indexed`]).

use cts_client::Trace;
use serde::{Deserialize, Serialize};

/// Where a trace was collected: the facts a CTS trace does not carry itself.
///
/// The sink reads them from the CloudEvent extensions (`tenant`, `region`,
/// `domain`); other callers fill them from the tracker they polled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TraceContext {
    /// The OTC project (tenant) id the trace belongs to. Required.
    pub project_id: String,
    /// The region of the project, e.g. `eu-de`. Required.
    pub region: String,
    /// The domain (account) id that owns the project, if known.
    pub domain_id: Option<String>,
    /// The domain (account) name, if known.
    pub domain_name: Option<String>,
    /// The project's name (e.g. `eu-de_myproject`), if known; stored as `Tenant.name`.
    pub project_name: Option<String>,
}

impl TraceContext {
    /// A context with a project and a region and no domain.
    pub fn new(project_id: impl Into<String>, region: impl Into<String>) -> Self {
        TraceContext {
            project_id: project_id.into(),
            region: region.into(),
            domain_id: None,
            domain_name: None,
            project_name: None,
        }
    }

    /// The same context with the project's name (shown instead of its id where a person reads it).
    pub fn with_project_name(mut self, name: impl Into<String>) -> Self {
        self.project_name = Some(name.into());
        self
    }

    /// The same context with the owning domain's id and (optional) name.
    pub fn with_domain(mut self, id: impl Into<String>, name: Option<String>) -> Self {
        self.domain_id = Some(id.into());
        self.domain_name = name;
        self
    }
}

/// One trace to write, with the context it was collected in.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRecord {
    /// The trace as CTS returned it.
    pub trace: Trace,
    /// Project, region and domain of the trace.
    pub context: TraceContext,
}

impl TraceRecord {
    /// Pairs a trace with its context.
    pub fn new(trace: Trace, context: TraceContext) -> Self {
        TraceRecord { trace, context }
    }
}

/// How an action reached the cloud: a normalised form of `trace_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// `ConsoleAction`: a person in the web console.
    Console,
    /// `ApiCall` (and the OBS data-trace types `ObsSDK`, `ObsAPI`): a program.
    Api,
    /// `SystemAction`: the cloud itself (scaling, expiry, internal calls).
    System,
    /// A trace type CTS did not document; the raw value is in `traceType`.
    Other,
    /// The trace had no `trace_type`.
    Unknown,
}

impl Channel {
    /// Classifies a raw `trace_type`, case-insensitively.
    pub fn from_trace_type(trace_type: Option<&str>) -> Channel {
        let Some(raw) = trace_type else {
            return Channel::Unknown;
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "consoleaction" => Channel::Console,
            "apicall" | "obssdk" | "obsapi" => Channel::Api,
            "systemaction" => Channel::System,
            "" => Channel::Unknown,
            _ => Channel::Other,
        }
    }
}

/// Everything one trace contributes to the graph.
///
/// Shared nodes (tenant, user, service, status, IP) appear in many rows; the
/// writer deduplicates them per batch before sending.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphRow {
    /// The `Action` node (one per trace).
    pub action: ActionNode,
    /// Who acted: a person, an agency session, or the service's system principal.
    pub user: UserNode,
    /// The real user behind an assumed agency (`user.assumedBy.user`), if CTS names one.
    pub assumed_by: Option<UserNode>,
    /// What was acted on; `None` when the trace names neither a resource id nor a name.
    pub resource: Option<ResourceNode>,
    /// The project the trace was collected in.
    pub tenant: TenantNode,
    /// `Status` node name: `normal`, `warning`, `incident`, another CTS value, or `unknown`.
    pub status: String,
    /// `Service` node name (the `service_type`, e.g. `ECS`), if present.
    pub service: Option<String>,
    /// `IpAddress` node address, if the trace has a non-empty `source_ip`.
    pub source_ip: Option<String>,
}

/// Properties of an `Action` node. `time` (a DATETIME) is derived from
/// `timeMs` by the writer; the other fields are stored as they are here.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionNode {
    /// Trace id: the node key.
    pub trace_id: String,
    /// Operation name (`trace_name`), e.g. `deleteEip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Raw `trace_type`, e.g. `ConsoleAction`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_type: Option<String>,
    /// Normalised trace type.
    pub channel: Channel,
    /// Same value as the linked `Status` node, kept for filters.
    pub status: String,
    /// True when the rating is `warning`/`incident` or the HTTP code is 400 or above.
    pub failed: bool,
    /// HTTP status code of the audited call, as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// When the operation happened, epoch milliseconds (`time`, else `record_time`).
    pub time_ms: i64,
    /// When CTS recorded the trace, epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_time_ms: Option<i64>,
    /// API version of the audited service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Request id of the audited call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Source IP, copied from the linked `IpAddress` node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Service type, copied from the linked `Service` node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Resource type, e.g. `eip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Resource id as CTS gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Resource name as CTS gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Name of the acting user (`system` for system principals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Project id from the context.
    pub project_id: String,
    /// Region from the context.
    pub region: String,
    /// Domain id of the acting user (else of the project).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// The audited request, as a string (JSON text when CTS sent an object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The audited response, as a string (JSON text when CTS sent an object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// CTS remarks, as a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// CTS `location_info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_info: Option<String>,
    /// CTS `endpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// CTS `resource_url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_url: Option<String>,
    /// Trace fields this model does not name, as a JSON object text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra: Option<String>,
    /// User fields this model does not name (`assumedBy`, Huawei extensions), as JSON text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_extra: Option<String>,
}

/// Whether a `User` node is a person (or agency session) or a system principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    /// A named IAM user, federated user or agency session.
    User,
    /// Stands for "the cloud service itself" when a trace has no user.
    System,
}

/// Properties of a `User` node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserNode {
    /// Node key: `<domain>/name:<name>`, `<domain>/id:<id>` or `<domain>/system:<service>`.
    pub key: String,
    /// User name (`system` for system principals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// User id, when CTS gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The user's domain id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// The user's domain name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Person or system principal.
    pub kind: UserKind,
}

/// Properties of a `Resource` node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceNode {
    /// Node key: `<project>/<service>/<type>/id:<id>`, or `…/name:<name>` without an id.
    pub key: String,
    /// Project the resource lives in.
    pub project_id: String,
    /// Service type, e.g. `VPC`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Resource type, e.g. `eip`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Resource id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Resource name (the latest one written wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Properties of a `Tenant` (project) node.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantNode {
    /// Project id: the node key.
    pub project_id: String,
    /// Region name; also the linked `Region` node.
    pub region: String,
    /// Owning domain id; also the linked `Domain` node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Owning domain name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Project name, when the context knows it (a trace without it never clears it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels() {
        assert_eq!(
            Channel::from_trace_type(Some("ConsoleAction")),
            Channel::Console
        );
        assert_eq!(Channel::from_trace_type(Some("apicall")), Channel::Api);
        assert_eq!(Channel::from_trace_type(Some("ObsSDK")), Channel::Api);
        assert_eq!(
            Channel::from_trace_type(Some("SystemAction")),
            Channel::System
        );
        assert_eq!(Channel::from_trace_type(Some("Backdoor")), Channel::Other);
        assert_eq!(Channel::from_trace_type(Some(" ")), Channel::Unknown);
        assert_eq!(Channel::from_trace_type(None), Channel::Unknown);
    }
}
