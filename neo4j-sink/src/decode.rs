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
use serde::Deserialize;
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
        let Some(value) = headers.get(format!("ce-{attr}")) else {
            return Err(missing(attr));
        };
        match value.to_str() {
            Ok(v) if v.trim().is_empty() => return Err(missing(attr)),
            Ok(_) => {}
            Err(_) => {
                return Err(EventError::new(
                    "invalid_attribute",
                    format!(
                        "the ce-{attr} header holds bytes that are not printable ASCII; \
                         percent-encode other characters (e.g. %C3%A9 for \u{e9}) as the \
                         CloudEvents HTTP binding requires, or send the event in structured mode"
                    ),
                ))
            }
        }
    }
    to_event(headers, body.to_vec()).map_err(|e| {
        // The SDK's message names no attribute: find the header it refused by
        // reading the headers without each parsed one in turn.
        let culprit = PARSED.iter().find(|(attr, _)| {
            let name = format!("ce-{attr}");
            headers.contains_key(&name) && {
                let mut rest = headers.clone();
                rest.remove(&name);
                to_event(&rest, Vec::new()).is_ok()
            }
        });
        invalid_attribute(
            e,
            culprit.map(|(a, rule)| (format!("ce-{a} header"), *rule)),
        )
    })
}

/// The attributes of the CloudEvents core (and structured-mode data members);
/// every other member of a structured event is an extension.
const CORE: [&str; 10] = [
    "specversion",
    "id",
    "source",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
    "data_base64",
];

/// Optional attributes the SDK parses, with the rule their value follows.
const PARSED: [(&str, &str); 3] = [
    ("time", "an RFC 3339 timestamp, e.g. 2023-11-14T22:13:20Z"),
    (
        "dataschema",
        "an absolute URI, e.g. https://example.com/trace.json",
    ),
    ("data_base64", "base64 text (RFC 4648) of the JSON trace"),
];

fn invalid_attribute(
    sdk_error: impl std::fmt::Display,
    culprit: Option<(String, &str)>,
) -> EventError {
    let detail = match culprit {
        Some((what, rule)) => {
            format!("the CloudEvent {what} is invalid ({sdk_error}); it must be {rule}")
        }
        None => format!("the CloudEvent is invalid: {sdk_error}"),
    };
    EventError::new("invalid_attribute", detail)
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
    let value = Value::Object(map);
    let event = Event::deserialize(&value).map_err(|e| {
        // As in binary mode: name the attribute the SDK refused.
        let culprit = PARSED.iter().find(|(attr, _)| {
            value.get(attr).is_some() && {
                let mut rest = value.clone();
                rest.as_object_mut().map(|m| m.remove(*attr));
                Event::deserialize(&rest).is_ok()
            }
        });
        refuse(invalid_attribute(
            e,
            culprit.map(|(a, rule)| (format!("attribute `{a}`"), *rule)),
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
    for (name, value) in map {
        let scalar = match value {
            Value::String(_) | Value::Bool(_) => true,
            Value::Number(n) => n.is_i64(),
            _ => false,
        };
        if !scalar && !CORE.contains(&name.as_str()) {
            return Err(EventError::new(
                "invalid_attribute",
                format!(
                    "the CloudEvent extension attribute `{name}` must be a string, a boolean or an \
                     integer, got {}",
                    if value.is_number() {
                        "a number that is not a whole 64-bit integer"
                    } else {
                        kind(value)
                    }
                ),
            ));
        }
    }
    if let Some(Value::String(ct)) = map.get("datacontenttype") {
        if !is_json_media_type(ct) {
            // Checked before the SDK reads the event: it would refuse JSON data
            // declared as text with a message naming neither field.
            return Err(EventError::new(
                "invalid_data",
                format!("datacontenttype {ct:?} is not JSON; the data must be a CTS trace as application/json"),
            ));
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
#[path = "decode_tests.rs"]
mod tests;
