//! From an HTTP request to CloudEvents: the three content modes.
//!
//! - **binary**: attributes in `ce-*` headers, the trace JSON is the body;
//! - **structured**: `Content-Type: application/cloudevents+json`, the whole
//!   event is the JSON body;
//! - **batch**: `Content-Type: application/cloudevents-batch+json`, a JSON
//!   array of structured events.
//!
//! Binary and structured parsing is done by the cloudevents-sdk HTTP binding
//! (`cloudevents::binding::http::to_event`, the function its axum extractor
//! wraps). The extractor itself is not used: it reads bodies without a limit,
//! answers every problem with one status and has no batch mode. Before
//! handing a request to the SDK, the attributes are checked here so the
//! answer names exactly what is wrong (spec version, which attribute).

use crate::event::{is_json_media_type, EventRules, SinkEvent};
use crate::problem::{EventError, Problem, RefusedEvent};
use axum::http::{header, HeaderMap};
use cloudevents::binding::http::to_event;
use cloudevents::Event;
use serde_json::{Map, Value};

/// How the request carries its event(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `ce-*` headers plus data body.
    Binary,
    /// `application/cloudevents+json`.
    Structured,
    /// `application/cloudevents-batch+json`.
    Batch,
}

const REQUIRED: [&str; 3] = ["id", "source", "type"];

/// The media type of the request, lower case, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let m = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    Some(m).filter(|m| !m.is_empty())
}

/// Decides the content mode from the headers, or refuses the request
/// (415 for a format the sink does not read, 400 for no CloudEvent at all).
pub fn content_mode(headers: &HeaderMap) -> Result<Mode, Problem> {
    let media = media_type(headers);
    match media.as_deref() {
        Some("application/cloudevents-batch+json") => return Ok(Mode::Batch),
        Some("application/cloudevents+json") => return Ok(Mode::Structured),
        Some(m) if m.starts_with("application/cloudevents") => {
            return Err(Problem::unsupported_media_type(format!(
                "event format {m} is not supported; send application/cloudevents+json, \
                 application/cloudevents-batch+json or a binary-mode event with application/json data"
            )))
        }
        _ => {}
    }
    if !headers.contains_key("ce-specversion") {
        return Err(Problem::not_a_cloudevent(format!(
            "the request is not a CloudEvent: it has no ce-specversion header (binary mode) and its content type \
             {} is neither application/cloudevents+json nor application/cloudevents-batch+json",
            media.as_deref().unwrap_or("(none)")
        )));
    }
    if let Some(m) = media.as_deref() {
        if !is_json_media_type(m) {
            return Err(Problem::unsupported_media_type(format!(
                "binary-mode data of content type {m} is not supported; the data must be a CTS trace \
                 as application/json"
            )));
        }
    }
    Ok(Mode::Binary)
}

/// The decoded events of one request, in request order.
#[derive(Debug)]
pub struct Decoded {
    /// The content mode.
    pub mode: Mode,
    /// One entry per event: accepted, or refused with its index and id.
    pub events: Vec<Result<SinkEvent, RefusedEvent>>,
}

/// Decodes and checks the body. Request-level problems (a body that is no
/// event at all) come back as `Err`; per-event problems are in the list.
pub fn decode(
    mode: Mode,
    headers: &HeaderMap,
    body: &[u8],
    rules: &EventRules,
) -> Result<Decoded, Problem> {
    let events = match mode {
        Mode::Binary => {
            vec![binary(headers, body)
                .and_then(|e| rules.check(e))
                .map_err(|reason| RefusedEvent {
                    index: 0,
                    id: header_str(headers, "ce-id"),
                    reason,
                })]
        }
        Mode::Structured => {
            let value = parse_json(body, "application/cloudevents+json body")?;
            vec![structured(value, 0, rules)]
        }
        Mode::Batch => match parse_json(body, "application/cloudevents-batch+json body")? {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| structured(v, i, rules))
                .collect(),
            other => {
                return Err(Problem::not_a_cloudevent(format!(
                    "a batch body must be a JSON array of structured CloudEvents, got {}",
                    kind(&other)
                )))
            }
        },
    };
    Ok(Decoded { mode, events })
}

fn parse_json(body: &[u8], what: &str) -> Result<Value, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| Problem::not_a_cloudevent(format!("the {what} is not valid JSON: {e}")))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn spec_version_error(found: &str) -> EventError {
    EventError::new(
        "unsupported_specversion",
        format!("CloudEvents spec version {found:?} is not supported; only 1.0 is accepted"),
    )
}

fn missing(attr: &str) -> EventError {
    EventError::new(
        "missing_attribute",
        format!("the required CloudEvent attribute `{attr}` is missing or empty"),
    )
}

fn binary(headers: &HeaderMap, body: &[u8]) -> Result<Event, EventError> {
    let version = header_str(headers, "ce-specversion").unwrap_or_default();
    if version.trim() != "1.0" {
        return Err(spec_version_error(&version));
    }
    for attr in REQUIRED {
        if header_str(headers, &format!("ce-{attr}")).is_none_or(|v| v.trim().is_empty()) {
            return Err(missing(attr));
        }
    }
    to_event(headers, body.to_vec()).map_err(|e| {
        EventError::new(
            "invalid_attribute",
            format!("the CloudEvent headers are invalid: {e}"),
        )
    })
}

fn structured(value: Value, index: usize, rules: &EventRules) -> Result<SinkEvent, RefusedEvent> {
    let id = value.get("id").and_then(Value::as_str).map(str::to_string);
    let refuse = |reason| RefusedEvent {
        index,
        id: id.clone(),
        reason,
    };
    let Value::Object(map) = value else {
        return Err(refuse(EventError::new(
            "not_a_cloudevent",
            format!(
                "a structured CloudEvent must be a JSON object, got {}",
                kind(&value)
            ),
        )));
    };
    check_structured_attributes(&map).map_err(refuse)?;
    let event: Event = serde_json::from_value(Value::Object(map)).map_err(|e| {
        refuse(EventError::new(
            "invalid_attribute",
            format!("the CloudEvent is invalid: {e}"),
        ))
    })?;
    rules.check(event).map_err(refuse)
}

fn check_structured_attributes(map: &Map<String, Value>) -> Result<(), EventError> {
    match map.get("specversion") {
        Some(Value::String(v)) if v == "1.0" => {}
        Some(Value::String(v)) => return Err(spec_version_error(v)),
        Some(other) => return Err(spec_version_error(&other.to_string())),
        None => return Err(missing("specversion")),
    }
    for attr in REQUIRED {
        match map.get(attr) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(Value::String(_)) | None | Some(Value::Null) => return Err(missing(attr)),
            Some(other) => {
                return Err(EventError::new(
                    "invalid_attribute",
                    format!(
                        "the CloudEvent attribute `{attr}` must be a string, got {}",
                        kind(other)
                    ),
                ))
            }
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
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
    use axum::http::{HeaderName, HeaderValue, StatusCode};
    use serde_json::json;

    fn rules() -> EventRules {
        EventRules {
            accepted_type_prefixes: vec!["com.otc.cts.trace.".into()],
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    fn binary_headers(version: &str) -> HeaderMap {
        headers(&[
            ("content-type", "application/json"),
            ("ce-specversion", version),
            ("ce-id", "t1"),
            ("ce-source", "https://cts.example/v3/p1"),
            ("ce-type", "com.otc.cts.trace.ecs.start"),
            ("ce-project", "p1"),
            ("ce-region", "eu-de"),
        ])
    }

    fn structured_event(id: &str) -> Value {
        json!({"specversion": "1.0", "id": id, "source": "s", "type": "com.otc.cts.trace.vpc.x",
               "project": "p1", "region": "eu-de", "datacontenttype": "application/json",
               "data": {"trace_id": id}})
    }

    #[test]
    fn modes_from_content_type() {
        assert_eq!(content_mode(&binary_headers("1.0")), Ok(Mode::Binary));
        let h = headers(&[(
            "content-type",
            "Application/CloudEvents+JSON; charset=utf-8",
        )]);
        assert_eq!(content_mode(&h), Ok(Mode::Structured));
        let h = headers(&[("content-type", "application/cloudevents-batch+json")]);
        assert_eq!(content_mode(&h), Ok(Mode::Batch));
        let h = headers(&[("content-type", "application/cloudevents+xml")]);
        assert_eq!(
            content_mode(&h).expect_err("415").status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let mut h = binary_headers("1.0");
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(
            content_mode(&h).expect_err("415").status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let h = headers(&[("content-type", "application/json")]);
        let p = content_mode(&h).expect_err("400");
        assert_eq!(
            (p.status, p.error),
            (StatusCode::BAD_REQUEST, "not_a_cloudevent")
        );
    }

    #[test]
    fn binary_event_decodes() {
        let d = decode(
            Mode::Binary,
            &binary_headers("1.0"),
            br#"{"trace_id":"t1"}"#,
            &rules(),
        )
        .expect("decodes");
        let e = d.events.into_iter().next().expect("one").expect("accepted");
        assert_eq!(e.key.trace_id, "t1");
        assert_eq!(e.record.context.project_id, "p1");
    }

    #[test]
    fn binary_spec_version_and_missing_attribute() {
        let d = decode(
            Mode::Binary,
            &binary_headers("0.3"),
            br#"{"trace_id":"t1"}"#,
            &rules(),
        )
        .expect("decodes");
        let refused = d
            .events
            .into_iter()
            .next()
            .expect("one")
            .expect_err("refused");
        assert_eq!(refused.reason.error, "unsupported_specversion");
        let mut h = binary_headers("1.0");
        h.remove("ce-source");
        let d = decode(Mode::Binary, &h, br#"{"trace_id":"t1"}"#, &rules()).expect("decodes");
        let refused = d
            .events
            .into_iter()
            .next()
            .expect("one")
            .expect_err("refused");
        assert_eq!(refused.reason.error, "missing_attribute");
        assert!(refused.reason.detail.contains("`source`"));
    }

    #[test]
    fn structured_and_batch() {
        let body = serde_json::to_vec(&structured_event("a")).expect("json");
        let d = decode(Mode::Structured, &HeaderMap::new(), &body, &rules()).expect("decodes");
        assert!(d.events[0].is_ok());

        let mut bad_version = structured_event("b");
        bad_version["specversion"] = json!("0.3");
        let mut no_type = structured_event("c");
        no_type.as_object_mut().expect("object").remove("type");
        let batch = json!([structured_event("a"), bad_version, no_type, 5]);
        let body = serde_json::to_vec(&batch).expect("json");
        let d = decode(Mode::Batch, &HeaderMap::new(), &body, &rules()).expect("decodes");
        let codes: Vec<_> = d
            .events
            .iter()
            .map(|r| r.as_ref().err().map(|e| e.reason.error))
            .collect();
        assert_eq!(
            codes,
            vec![
                None,
                Some("unsupported_specversion"),
                Some("missing_attribute"),
                Some("not_a_cloudevent")
            ]
        );
        assert_eq!(
            d.events[1].as_ref().expect_err("refused").id.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn bodies_that_are_not_events() {
        let p =
            decode(Mode::Structured, &HeaderMap::new(), b"not json", &rules()).expect_err("400");
        assert_eq!(p.error, "not_a_cloudevent");
        let p = decode(Mode::Batch, &HeaderMap::new(), b"{}", &rules()).expect_err("400");
        assert!(p.detail.contains("JSON array"), "{}", p.detail);
    }
}
