//! The visible traces of one project, kept sorted by `record_time` with each
//! trace's JSON serialized once at ingestion, so that a page is a binary
//! search plus a copy of stored bytes.
//!
//! `record_time` is unique per project: a trace that would share a
//! millisecond with its predecessor is recorded one millisecond later. The
//! time-based `next` cursor of §1.6 ("strictly older than the marker's
//! record time") therefore never skips or repeats a trace.

use std::collections::HashMap;

use bytes::Bytes;

use crate::generator::{Rating, TraceRecord};

/// One visible trace: the fields filters look at, plus its JSON.
#[derive(Debug)]
pub(crate) struct StoredTrace {
    pub record_time: i64,
    pub time: i64,
    pub trace_id: Box<str>,
    pub trace_name: Box<str>,
    pub service_type: Box<str>,
    pub resource_type: Box<str>,
    pub resource_id: Box<str>,
    pub resource_name: Box<str>,
    pub user: Option<Box<str>>,
    pub rating: Rating,
    /// JSON with `trace_rating` (v1, v3, and v2 when it uses that name too).
    pub json: Bytes,
    /// Byte offset of the `trace_rating` key in `json`, if it has one: v2
    /// answers with `trace_status` rename it there (same length) instead of
    /// keeping a second copy of every trace.
    pub status_key_at: Option<usize>,
}

/// The status key as stored, and its v2 name; both 12 bytes long.
const RATING_KEY: &[u8] = b"\"trace_rating\":";
const STATUS_KEY: &[u8] = b"\"trace_status\":";

/// Where the top-level `"trace_rating":` key starts in a trace's JSON. A
/// `"` inside a JSON string is always escaped, so `,"trace_rating":` (or the
/// same after `{`) preceded by no backslash can only be the object's key;
/// the renderer writes it third, so the search ends early.
fn status_key_offset(json: &[u8]) -> Option<usize> {
    json.windows(RATING_KEY.len() + 1)
        .position(|w| (w[0] == b',' || w[0] == b'{') && &w[1..] == RATING_KEY)
        .map(|i| i + 1)
}

/// Filters of §1.2; `None` means "any".
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Filters {
    pub service_type: Option<String>,
    pub user: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub resource_type: Option<String>,
    pub trace_name: Option<String>,
    pub rating: Option<Rating>,
}

impl Filters {
    fn matches(&self, t: &StoredTrace) -> bool {
        fn eq(want: &Option<String>, have: &str) -> bool {
            want.as_deref().is_none_or(|w| w == have)
        }
        eq(&self.service_type, &t.service_type)
            && eq(&self.resource_id, &t.resource_id)
            && eq(&self.resource_name, &t.resource_name)
            && eq(&self.resource_type, &t.resource_type)
            && eq(&self.trace_name, &t.trace_name)
            && self.rating.is_none_or(|r| r == t.rating)
            && self
                .user
                .as_deref()
                .is_none_or(|u| t.user.as_deref() == Some(u))
    }
}

/// A page request after validation.
#[derive(Debug, Clone)]
pub(crate) struct PageQuery {
    /// Exclusive lower bound on `time`.
    pub from: i64,
    /// Exclusive upper bound on `time`.
    pub to: i64,
    /// Exclusive upper bound on `record_time` (from the `next` marker).
    pub before_record_time: Option<i64>,
    pub limit: usize,
    pub filters: Filters,
}

/// The traces of one page, newest first, and whether older matches exist.
#[derive(Debug)]
pub(crate) struct Page {
    pub items: Vec<(Box<str>, Bytes)>,
    pub more: bool,
}

/// All visible traces of a project.
#[derive(Debug, Default)]
pub(crate) struct ProjectStore {
    traces: Vec<StoredTrace>,
    by_id: HashMap<Box<str>, usize>,
    last_record_time: i64,
    /// Largest `record_time - time` seen: bounds the search for a `to`.
    max_lag: i64,
}

impl ProjectStore {
    /// The record time the next trace gets if it wants `desired`.
    #[cfg(test)]
    pub fn next_record_time(&self, desired: i64) -> i64 {
        if self.traces.is_empty() {
            desired
        } else {
            desired.max(self.last_record_time + 1)
        }
    }

    /// Record time of the newest visible trace.
    pub fn last_record_time(&self) -> Option<i64> {
        (!self.traces.is_empty()).then_some(self.last_record_time)
    }

    /// Appends a trace whose JSON was rendered with `record_time`, which must
    /// come from [`ProjectStore::next_record_time`].
    pub fn push(&mut self, rec: &TraceRecord, record_time: i64, json: Bytes) {
        debug_assert!(self.traces.is_empty() || record_time > self.last_record_time);
        self.last_record_time = record_time;
        self.max_lag = self.max_lag.max(record_time - rec.time);
        self.by_id
            .insert(rec.trace_id.as_str().into(), self.traces.len());
        self.traces.push(StoredTrace {
            record_time,
            time: rec.time,
            trace_id: rec.trace_id.as_str().into(),
            trace_name: rec.trace_name.as_str().into(),
            service_type: rec.service_type.as_str().into(),
            resource_type: rec.resource_type.as_str().into(),
            resource_id: rec.resource_id.as_str().into(),
            resource_name: rec.resource_name.as_str().into(),
            user: rec.user.as_ref().map(|u| u.name.as_str().into()),
            rating: rec.rating,
            status_key_at: status_key_offset(&json),
            json,
        });
    }

    /// A visible trace by id.
    pub fn get(&self, trace_id: &str) -> Option<&StoredTrace> {
        self.by_id.get(trace_id).map(|&i| &self.traces[i])
    }

    /// All visible traces, oldest record time first.
    pub fn all(&self) -> &[StoredTrace] {
        &self.traces
    }

    /// Visible trace ids in ingestion (record time) order.
    pub fn ids(&self) -> Vec<String> {
        self.traces.iter().map(|t| t.trace_id.to_string()).collect()
    }

    /// Trace times (`time`, epoch ms) of the visible traces, in the order of [`ProjectStore::ids`].
    pub fn times_ms(&self) -> Vec<i64> {
        self.traces.iter().map(|t| t.time).collect()
    }

    /// One page, newest record time first.
    pub fn page(&self, q: &PageQuery, status_as_trace_status: bool) -> Page {
        // record_time >= time > from, and record_time <= time + max_lag < to + max_lag.
        let lo = self.traces.partition_point(|t| t.record_time <= q.from);
        let mut hi = self
            .traces
            .partition_point(|t| t.record_time < q.to.saturating_add(self.max_lag));
        if let Some(before) = q.before_record_time {
            hi = hi.min(self.traces.partition_point(|t| t.record_time < before));
        }
        let mut items = Vec::with_capacity(q.limit.min(256));
        let mut more = false;
        for t in self.traces[lo..hi.max(lo)].iter().rev() {
            if t.time <= q.from || t.time >= q.to || !q.filters.matches(t) {
                continue;
            }
            if items.len() == q.limit {
                more = true;
                break;
            }
            items.push((t.trace_id.clone(), Self::bytes(t, status_as_trace_status)));
        }
        Page { items, more }
    }

    /// The JSON of a trace, with the status key named `trace_status` when
    /// `status_as_trace_status` (v2 in its default naming), else as stored.
    pub fn bytes(t: &StoredTrace, status_as_trace_status: bool) -> Bytes {
        match (t.status_key_at, status_as_trace_status) {
            (Some(at), true) => {
                let mut v = t.json.to_vec();
                v[at..at + STATUS_KEY.len()].copy_from_slice(STATUS_KEY);
                Bytes::from(v)
            }
            _ => t.json.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
