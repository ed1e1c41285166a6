//! A trace in a page that the tolerant [`Trace`](crate::Trace) model cannot read.
//!
//! One trace with a field of an impossible type (`"time": "yesterday"`,
//! `"user": 42`) must not make the whole page unreadable: the page's other
//! traces are good, and a page that never decodes would stall any consumer
//! that retries it. So a page decodes `traces` element by element; the
//! elements that fail are kept here, with their JSON text exactly as CTS sent
//! it and the decode error, for the caller to report and keep.

use serde::Deserialize;
use serde_json::Value;

/// One element of a page's `traces` array that could not be decoded.
///
/// Its `Debug` output includes the raw JSON; CTS traces hold no credentials
/// of this client, but may be large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndecodableTrace {
    /// Its 0-based position in the page's `traces` array.
    pub index: usize,
    /// `trace_id`, when the element is an object with a string `trace_id`.
    pub trace_id: Option<String>,
    /// `service_type`, when present as a string.
    pub service_type: Option<String>,
    /// `trace_name`, when present as a string.
    pub trace_name: Option<String>,
    /// What could not be read, e.g. ``invalid type: string "yesterday",
    /// expected epoch milliseconds ... at line 1 column 40`` (positions are
    /// within [`raw`](Self::raw)).
    pub error: String,
    /// The element's JSON text, byte for byte as CTS sent it.
    pub raw: String,
}

/// The identifying fields, read as loosely as possible.
#[derive(Deserialize)]
struct Names {
    #[serde(default)]
    trace_id: Option<Value>,
    #[serde(default)]
    service_type: Option<Value>,
    #[serde(default)]
    trace_name: Option<Value>,
}

impl UndecodableTrace {
    /// Describes the element `raw` at `index` that failed with `error`.
    pub(crate) fn new(index: usize, raw: &str, error: &serde_json::Error) -> UndecodableTrace {
        let names = serde_json::from_str::<Names>(raw).ok();
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let (trace_id, service_type, trace_name) = match names {
            Some(n) => (text(n.trace_id), text(n.service_type), text(n.trace_name)),
            None => (None, None, None),
        };
        UndecodableTrace {
            index,
            trace_id,
            service_type,
            trace_name,
            error: error.to_string(),
            raw: raw.to_owned(),
        }
    }
}

impl UndecodableTrace {
    /// The first `max` bytes of [`raw`](Self::raw), cut on a character
    /// boundary and followed by `… (<n> bytes in all)` when cut: for a log
    /// line that must stay bounded however large the trace is.
    pub fn raw_excerpt(&self, max: usize) -> String {
        let text = &self.raw;
        if text.len() <= max {
            return text.to_owned();
        }
        let end = (0..=max)
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}… ({} bytes in all)", &text[..end], text.len())
    }
}

impl std::fmt::Display for UndecodableTrace {
    /// `traces[i] (trace_id "…", ECS createServer): <error>`, without the raw JSON.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "traces[{}] (trace_id ", self.index)?;
        match &self.trace_id {
            Some(id) => write!(f, "{id:?}")?,
            None => f.write_str("unreadable")?,
        }
        match (&self.service_type, &self.trace_name) {
            (Some(s), Some(n)) => write!(f, ", {s} {n}")?,
            (Some(x), None) | (None, Some(x)) => write!(f, ", {x}")?,
            (None, None) => {}
        }
        write!(f, "): {}", self.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err() -> serde_json::Error {
        serde_json::from_str::<u8>("\"x\"").expect_err("not a number")
    }

    #[test]
    fn names_what_can_be_read() {
        let raw = r#"{"trace_id":"t1","service_type":"ECS","trace_name":"createServer","time":"yesterday"}"#;
        let u = UndecodableTrace::new(3, raw, &err());
        assert_eq!(u.trace_id.as_deref(), Some("t1"));
        assert_eq!(u.raw, raw);
        let shown = u.to_string();
        assert!(
            shown.starts_with("traces[3] (trace_id \"t1\", ECS createServer): invalid type"),
            "{shown}"
        );
        assert!(
            !shown.contains("yesterday"),
            "no raw JSON in Display: {shown}"
        );
    }

    #[test]
    fn raw_excerpt_cuts_on_a_char_boundary() {
        let excerpt = |raw: &str, max| UndecodableTrace::new(0, raw, &err()).raw_excerpt(max);
        assert_eq!(excerpt("abc", 5), "abc");
        assert_eq!(excerpt("ééé", 3), "é… (6 bytes in all)");
        assert_eq!(excerpt("ééé", 0), "… (6 bytes in all)");
    }

    #[test]
    fn not_an_object_or_no_string_id() {
        let u = UndecodableTrace::new(0, "42", &err());
        assert_eq!(
            (u.trace_id, u.service_type, u.trace_name),
            (None, None, None)
        );
        let u = UndecodableTrace::new(1, r#"{"trace_id":7,"trace_name":"x"}"#, &err());
        assert_eq!(u.trace_id, None);
        assert!(u
            .to_string()
            .starts_with("traces[1] (trace_id unreadable, x): "));
    }
}
