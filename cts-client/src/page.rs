//! One page of a trace list, as decoded from `{"traces": [...], "meta_data": {...}}`.
//!
//! The OTC API reference (<https://github.com/opentelekomcloud-docs/cloud-trace-service/blob/main/api-ref/source/v3_apis_recommended/trace_management/querying_a_trace_list.rst>): `meta_data.count` is the number of traces in this page
//! and `meta_data.marker` the id of its last trace, to be sent as `next` for
//! the following page (null/absent on the last page).
//!
//! `traces` is read as a list of JSON texts first and each element is then
//! decoded on its own, so one unreadable trace lands in
//! [`TracePage::undecodable`] instead of failing the page. A body that is
//! not such a list (cut off, HTML, `traces` an object) still fails whole.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::{Error, Trace, UndecodableTrace};

/// One page of traces and the marker that leads to the next.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TracePage {
    /// The traces in this page, in server order (newest first), without the
    /// undecodable ones.
    pub traces: Vec<Trace>,
    /// The elements of `traces` the [`Trace`] model could not read (a field
    /// of an impossible type), with their raw JSON and the error, in server
    /// order. Callers should report and keep them: they are CTS records.
    pub undecodable: Vec<UndecodableTrace>,
    /// `meta_data.marker`: send as `next` to get the following page. `None`
    /// when the server sent null, an empty string or no marker at all.
    pub marker: Option<String>,
    /// `meta_data.count` as sent (the count of this page).
    pub count: Option<u64>,
}

impl TracePage {
    /// Decodes a trace-list response body (`{"traces": [...], "meta_data": {...}}`)
    /// exactly as [`CtsClient::list_traces`](crate::CtsClient::list_traces) does,
    /// including the checks for empty, HTML and truncated bodies.
    /// `content_type` is the response's `Content-Type` header, if any.
    ///
    /// Public so recorded responses and fuzz inputs (<https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/fuzzing.md>) can be
    /// replayed without a server.
    ///
    /// A trace with a field of the wrong type does not fail the page: it is
    /// put in [`TracePage::undecodable`].
    ///
    /// # Errors
    /// [`Error::Decode`] naming the problem (empty, HTML, cut-off or invalid
    /// JSON, no `traces` list) and a bounded snippet of the body.
    pub fn from_body(body: &[u8], content_type: Option<&str>) -> Result<TracePage, Error> {
        crate::decode::page(body, content_type, "the trace list")
    }
}

/// The wire shape; `traces` must be present (null counts as empty).
#[derive(Deserialize)]
pub(crate) struct PageWire {
    #[serde(deserialize_with = "traces_or_null")]
    traces: Vec<Box<RawValue>>,
    #[serde(default)]
    meta_data: Option<MetaWire>,
}

#[derive(Deserialize, Default)]
struct MetaWire {
    #[serde(default)]
    count: Option<Value>,
    #[serde(default)]
    marker: Option<Value>,
}

fn traces_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Box<RawValue>>, D::Error> {
    Ok(Option::<Vec<Box<RawValue>>>::deserialize(d)?.unwrap_or_default())
}

impl From<PageWire> for TracePage {
    fn from(w: PageWire) -> TracePage {
        let meta = w.meta_data.unwrap_or_default();
        let marker = match meta.marker {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let count = match meta.count {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let mut traces = Vec::with_capacity(w.traces.len());
        let mut undecodable = Vec::new();
        for (index, raw) in w.traces.iter().enumerate() {
            match Trace::from_json_str(raw.get()) {
                Ok(t) => traces.push(t),
                Err(e) => undecodable.push(UndecodableTrace::new(index, raw.get(), &e)),
            }
        }
        TracePage {
            traces,
            undecodable,
            marker,
            count,
        }
    }
}
