//! From a parsed CloudEvent to a trace the graph can store.
//!
//! Transport decoding (binary, structured, batch) lives in `decode`; this
//! module holds the rules every event must meet whatever the transport: JSON
//! data that is a CTS trace with an id and, only when `ACCEPTED_TYPE_PREFIXES`
//! narrows it, an accepted `type`. The graph context (project, region,
//! domain) comes from the extensions or is derived (`context`); a missing
//! context never refuses a trace. A failure is an
//! [`EventError`], which the sink answers with 400 because retrying the same
//! event can never succeed.

use crate::context::{self, Derived};
use crate::problem::EventError;
use crate::store::TraceRecord;
use cloudevents::event::Data;
use cloudevents::{AttributesReader, Event};
use cts_client::Trace;
use serde_json::Value;

/// Identity of an event for coalescing duplicates in flight: the CloudEvents
/// identity (`source`, `id`) plus the trace id, so two events that share an id
/// but carry different traces are never merged into one write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKey {
    /// CloudEvent `source`.
    pub source: String,
    /// CloudEvent `id`.
    pub id: String,
    /// `trace_id` of the data.
    pub trace_id: String,
}

/// An accepted event: its key and the record to write.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkEvent {
    /// Coalescing key.
    pub key: EventKey,
    /// What to write.
    pub record: TraceRecord,
    /// Context values that did not come from our own extensions (counted
    /// and logged by the server).
    pub derived: Vec<Derived>,
}

/// The rules events are checked against.
#[derive(Debug, Clone)]
pub struct EventRules {
    /// Accepted `type` prefixes, e.g. `com.otc.cts.trace.`; empty accepts
    /// every type (any event whose data is a CTS trace).
    pub accepted_type_prefixes: Vec<String>,
}

/// True for JSON media types: `application/json`, `text/json`, `*/*+json`.
pub fn is_json_media_type(media_type: &str) -> bool {
    let m = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    m == "application/json" || m == "text/json" || (m.ends_with("+json") && m.contains('/'))
}

impl EventRules {
    /// Checks one CloudEvent and turns it into a [`SinkEvent`].
    pub fn check(&self, mut event: Event) -> Result<SinkEvent, EventError> {
        self.check_type(&event)?;
        let (content_type, _, data) = event.take_data();
        let trace = trace_from_data(content_type.as_deref(), data)?;
        finish(event, trace)
    }

    /// As [`EventRules::check`], for an event whose data is given as JSON
    /// text (the `data` member of a structured event, `event` itself carrying
    /// none): the trace is decoded straight from the text.
    pub fn check_json_data(&self, event: Event, data: &str) -> Result<SinkEvent, EventError> {
        self.check_type(&event)?;
        if let Some(ct) = event.datacontenttype() {
            json_content_type(ct)?;
        }
        let trace = Trace::from_json_str(data).map_err(|e| {
            EventError::new(
                "invalid_data",
                format!("the event data is not a CTS trace: {e}"),
            )
        })?;
        finish(event, trace)
    }

    fn check_type(&self, event: &Event) -> Result<(), EventError> {
        let ty = event.ty();
        if !self.accepted_type_prefixes.is_empty()
            && !self
                .accepted_type_prefixes
                .iter()
                .any(|p| ty.starts_with(p.as_str()))
        {
            return Err(EventError::new(
                "unknown_type",
                format!(
                    "event type {ty:?} is not accepted; accepted type prefixes: {}; add its prefix to \
                     ACCEPTED_TYPE_PREFIXES (empty accepts every type) or send a type with one of them",
                    self.accepted_type_prefixes.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// The record of an accepted event, from its attributes and its trace.
fn finish(event: Event, mut trace: Trace) -> Result<SinkEvent, EventError> {
    let trace_id = trace
        .id()
        .ok_or_else(|| {
            EventError::new(
                "missing_trace_id",
                "the trace in the event data has no trace_id; it cannot be stored",
            )
        })?
        .to_string();
    let (context, mut derived) = context::derive(&event, &trace);
    if let Some((rating, from)) = context::rating_from_extensions(&event, &trace) {
        trace.trace_rating = Some(rating);
        derived.push(from);
    }
    Ok(SinkEvent {
        key: EventKey {
            source: event.source().to_string(),
            id: event.id().to_string(),
            trace_id,
        },
        record: TraceRecord::new(trace, context),
        derived,
    })
}

fn json_content_type(ct: &str) -> Result<(), EventError> {
    if is_json_media_type(ct) {
        Ok(())
    } else {
        Err(EventError::new(
            "invalid_data",
            format!("datacontenttype {ct:?} is not JSON; the data must be a CTS trace as application/json"),
        ))
    }
}

fn trace_from_data(content_type: Option<&str>, data: Option<Data>) -> Result<Trace, EventError> {
    if let Some(ct) = content_type {
        json_content_type(ct)?;
    }
    let value = match data {
        None => {
            return Err(EventError::new(
                "missing_data",
                "the event has no data; it must carry a CTS trace as JSON",
            ))
        }
        Some(Data::Json(v)) => v,
        Some(Data::Binary(bytes)) => serde_json::from_slice::<Value>(&bytes).map_err(|e| {
            EventError::new(
                "invalid_data",
                format!("the event data is not valid JSON: {e}"),
            )
        })?,
        Some(Data::String(s)) => serde_json::from_str::<Value>(&s).map_err(|e| {
            EventError::new(
                "invalid_data",
                format!("the event data is not valid JSON: {e}"),
            )
        })?,
    };
    if !value.is_object() {
        return Err(EventError::new(
            "invalid_data",
            format!(
                "the event data must be a JSON object (a CTS trace), got {}",
                json_kind(&value)
            ),
        ));
    }
    serde_json::from_value::<Trace>(value).map_err(|e| {
        EventError::new(
            "invalid_data",
            format!("the event data is not a CTS trace: {e}"),
        )
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};
    use serde_json::json;

    fn rules() -> EventRules {
        EventRules {
            accepted_type_prefixes: vec!["com.otc.cts.trace.".into()],
        }
    }

    fn event(ty: &str, data: Option<Value>) -> Event {
        let mut b = EventBuilderV10::new()
            .id("t-1")
            .source("https://cts.example/v3/p1?tracker=system")
            .ty(ty)
            .extension("project", "p1")
            .extension("region", "eu-de")
            .extension("domain", "d1");
        if let Some(d) = data {
            b = b.data("application/json", d);
        }
        b.build().expect("valid event")
    }

    #[test]
    fn good_event_becomes_a_record() {
        let e = event(
            "com.otc.cts.trace.ecs.createserver",
            Some(json!({"trace_id": "t-1", "trace_name": "x"})),
        );
        let s = rules().check(e).expect("accepted");
        assert_eq!(s.key.trace_id, "t-1");
        assert_eq!(s.key.id, "t-1");
        assert_eq!(s.record.context.project_id, "p1");
        assert_eq!(s.record.context.region, "eu-de");
        assert_eq!(s.record.context.domain_id.as_deref(), Some("d1"));
        assert_eq!(s.record.trace.trace_name.as_deref(), Some("x"));
    }

    #[test]
    fn bad_events_get_specific_reasons() {
        let cases = [
            (
                event("com.example.other", Some(json!({"trace_id": "a"}))),
                "unknown_type",
            ),
            (event("com.otc.cts.trace.x", None), "missing_data"),
            (
                event("com.otc.cts.trace.x", Some(json!([1]))),
                "invalid_data",
            ),
            (
                event("com.otc.cts.trace.x", Some(json!({"time": "yesterday"}))),
                "invalid_data",
            ),
            (
                event("com.otc.cts.trace.x", Some(json!({"trace_name": "no id"}))),
                "missing_trace_id",
            ),
            (
                event("com.otc.cts.trace.x", Some(json!({"trace_id": "  "}))),
                "missing_trace_id",
            ),
        ];
        for (e, code) in cases {
            let err = rules().check(e).expect_err("refused");
            assert_eq!(err.error, code, "{}", err.detail);
        }
    }

    #[test]
    fn a_missing_context_is_derived_not_refused() {
        let mut e = event(
            "com.otc.cts.trace.x",
            Some(json!({"trace_id": "a", "trace_rating": "normal"})),
        );
        e.remove_extension("project");
        e.remove_extension("region");
        let s = rules().check(e).expect("accepted");
        assert_eq!(s.record.context.project_id, crate::context::UNKNOWN);
        assert_eq!(s.record.context.region, crate::context::UNKNOWN);
        assert_eq!(
            s.derived,
            vec![
                Derived {
                    field: "project",
                    from: "placeholder"
                },
                Derived {
                    field: "region",
                    from: "placeholder"
                }
            ]
        );
    }

    #[test]
    fn any_type_is_accepted_without_a_filter() {
        let any = EventRules {
            accepted_type_prefixes: Vec::new(),
        };
        for ty in [
            "vpc.apicall.subnet.createsubnet",
            "com.example.other",
            "\u{1f600}",
        ] {
            let e = event(ty, Some(json!({"trace_id": "a"})));
            assert!(any.check(e).is_ok(), "{ty}");
        }
        let e = event(
            "vpc.apicall.subnet.createsubnet",
            Some(json!({"trace_id": "a"})),
        );
        let err = rules().check(e).expect_err("narrowed");
        assert_eq!(err.error, "unknown_type");
        assert!(
            err.detail.contains("ACCEPTED_TYPE_PREFIXES"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn the_status_extension_fills_a_trace_without_rating() {
        let mut e = event("com.otc.cts.trace.x", Some(json!({"trace_id": "a"})));
        e.set_extension("status", "warning");
        let s = rules().check(e).expect("accepted");
        assert_eq!(
            s.record.trace.trace_rating,
            Some(cts_client::TraceRating::Warning)
        );
    }

    #[test]
    fn json_media_types() {
        for t in [
            "application/json",
            "application/json; charset=utf-8",
            "text/json",
            "application/vnd.x+json",
        ] {
            assert!(is_json_media_type(t), "{t}");
        }
        for t in ["text/plain", "application/xml", "+json", ""] {
            assert!(!is_json_media_type(t), "{t}");
        }
    }
}
