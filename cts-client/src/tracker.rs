//! The tracker model (OTC API reference, "Querying a Tracker": <https://github.com/opentelekomcloud-docs/cloud-trace-service/blob/main/api-ref/source/v3_apis_recommended/tracker_management/querying_a_tracker.rst>).
//!
//! v3 lists trackers as `{"trackers": [...]}` with OBS settings under
//! `obs_info`; v1 returns one object with `bucket_name`/`file_prefix_name`
//! at the top level. One tolerant struct reads both; unknown fields are kept.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A CTS tracker (the management tracker is always named `system`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tracker {
    /// Tracker id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Tracker name, `system` for the management tracker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracker_name: Option<String>,
    /// Tracker type, e.g. `system` or `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracker_type: Option<String>,
    /// `enabled`, `disabled` or `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why the status is `error` (`bucketPolicyError`, `noBucket`, `arrears`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Creation time, epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<i64>,
    /// Account (domain) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<String>,
    /// Project id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// v1: OBS bucket traces are transferred to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// v1: file-name prefix of transferred trace files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_prefix_name: Option<String>,
    /// v3: OBS transfer settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obs_info: Option<ObsInfo>,
    /// LTS transfer settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lts: Option<LtsInfo>,
    /// Every other field (`is_support_validate`, `group_id`, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// OBS transfer settings of a v3 tracker.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ObsInfo {
    /// Bucket name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// File-name prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_prefix_name: Option<String>,
    /// `gzip` or `json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress_type: Option<String>,
    /// Whether files are sorted into per-service folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_sort_by_service: Option<bool>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// LTS transfer settings.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LtsInfo {
    /// Whether traces go to LTS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_lts_enabled: Option<bool>,
    /// Log group, e.g. `CTS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<String>,
    /// Log stream, e.g. `system-trace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_topic_name: Option<String>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"trackers": [...]}` (v3 list).
#[derive(Deserialize)]
pub(crate) struct TrackerList {
    pub(crate) trackers: Vec<Tracker>,
}
