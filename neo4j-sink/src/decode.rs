//! From an HTTP request to CloudEvents: the three content modes.
//!
//! - **binary**: attributes in `ce-*` headers, the trace JSON is the body;
//! - **structured**: `Content-Type: application/cloudevents+json`, the whole
//!   event is the JSON body;
//! - **batch**: `Content-Type: application/cloudevents-batch+json`, a JSON
//!   array of structured events.
//!
//! Attribute parsing is the cloudevents-sdk's (its event builder, fed
//! through `BinaryDeserializer` in binary mode and serde in structured mode).
//! Its HTTP binding (`to_event`, which its axum extractor wraps) is not used:
//! it does not percent-decode header values (CloudEvents HTTP binding 1.0.2,
//! section 3.1.3.2) and refuses any byte outside ASCII, and the extractor
//! reads bodies without a limit, answers every problem with one status and
//! has no batch mode. Here every `ce-*` header is unquoted, percent-decoded
//! and checked to be UTF-8 first ([`decode_header_value`]), raw UTF-8 is
//! accepted as well, and the attributes are checked so the answer names
//! exactly what is wrong: which header or attribute, and how to fix it.

use crate::event::{is_json_media_type, EventRules, SinkEvent};
use crate::problem::{EventError, Problem, RefusedEvent};
use axum::http::{header, HeaderMap};
use cloudevents::event::SpecVersion;
use cloudevents::message::{BinaryDeserializer, BinarySerializer, MessageAttributeValue};
use cloudevents::Event;
use serde::Deserialize;
use serde_json::value::RawValue;
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
        Mode::Structured => match serde_json::from_slice::<&RawValue>(body) {
            Ok(raw) if valid_json(body) => vec![structured_text(raw, 0, rules)],
            _ => {
                let value = parse_json(body, "application/cloudevents+json body")?;
                vec![structured(value, 0, rules)]
            }
        },
        Mode::Batch => match serde_json::from_slice::<Vec<&RawValue>>(body) {
            Ok(items) if valid_json(body) => items
                .into_iter()
                .enumerate()
                .map(|(i, raw)| structured_text(raw, i, rules))
                .collect(),
            // Not an array of JSON values: the general path names the problem.
            _ => match parse_json(body, "application/cloudevents-batch+json body")? {
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
        },
    };
    Ok(Decoded { mode, events })
}

/// One structured event from its JSON text. The trace in its `data` member
/// is decoded straight from the text into a [`cts_client::Trace`] (no
/// `serde_json::Value` of the trace in between: the sink's CPU per batched
/// event fell from 46-53 to 30 µs, docs/performance.md), when the event has
/// the usual shape: an
/// object whose `data` is a JSON object declared as JSON (or undeclared,
/// which the CloudEvents SDK reads as JSON) and no `data_base64`. Every other
/// shape takes [`structured`], the general path, so the outcome is the same
/// either way (`decode_tests` compares both on hostile events).
fn structured_text(
    raw: &RawValue,
    index: usize,
    rules: &EventRules,
) -> Result<SinkEvent, RefusedEvent> {
    // `raw` is valid JSON (`valid_json`), so it parses into a `Value`; the
    // null is never reached and would be refused, not lost.
    let general = || {
        let value: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
        structured(value, index, rules)
    };
    let Ok(Split { attributes, data }) = serde_json::from_str::<Split<'_>>(raw.get()) else {
        return general();
    };
    let data = match data {
        Some(d) if d.get().starts_with('{') => d,
        _ => return general(),
    };
    let sdk_reads_json = match attributes.get("datacontenttype") {
        None => true,
        Some(Value::String(ct)) => sdk_json_content_type(ct),
        Some(_) => false,
    };
    if !sdk_reads_json || attributes.contains_key("data_base64") {
        return general();
    }
    let id = attributes
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let refuse = |reason| RefusedEvent {
        index,
        id: id.clone(),
        reason,
    };
    check_structured_attributes(&attributes).map_err(refuse)?;
    let attributes = Value::Object(attributes);
    let event = Event::deserialize(&attributes).map_err(|e| refuse(sdk_refusal(e, &attributes)))?;
    rules.check_json_data(event, data.get()).map_err(refuse)
}

/// The CloudEvents SDK's own test for JSON data in structured mode
/// (`is_json_content_type` in cloudevents-sdk 0.9): data declared otherwise
/// is read as a string, so an object there is refused by the SDK.
fn sdk_json_content_type(ct: &str) -> bool {
    ct.starts_with("application/json") || ct.starts_with("text/json") || ct.ends_with("+json")
}

/// A structured event split into its attributes (every member but `data`,
/// as JSON values) and the JSON text of its `data` member.
struct Split<'a> {
    attributes: Map<String, Value>,
    data: Option<&'a RawValue>,
}

impl<'de> Deserialize<'de> for Split<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Split<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Split<'de>, A::Error> {
                let mut split = Split {
                    attributes: Map::new(),
                    data: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    if key == "data" {
                        // As in a `Value` object, a repeated member's last value wins.
                        split.data = Some(map.next_value()?);
                    } else {
                        let value = map.next_value()?;
                        split.attributes.insert(key, value);
                    }
                }
                Ok(split)
            }
        }
        d.deserialize_map(Members)
    }
}

/// True when the body parses as a `serde_json::Value` would: the same
/// syntax, the same recursion limit (128) counted from the body's root, every
/// number in range, every string escape (surrogates included) valid; but
/// nothing is built. The text path reads parts of a body on their own (a
/// `RawValue` does not check numbers, escapes or depth), so it runs only on a
/// body that passes here; any other body takes the general path, which
/// refuses it whole as before (400 `not_a_cloudevent`, naming the problem).
fn valid_json(body: &[u8]) -> bool {
    struct Valid;
    impl<'de> Deserialize<'de> for Valid {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Valid, D::Error> {
            d.deserialize_any(Valid)
        }
    }
    impl<'de> serde::de::Visitor<'de> for Valid {
        type Value = Valid;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
            Ok(Valid)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
            Ok(Valid)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
            Ok(Valid)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
            Ok(Valid)
        }
        fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
            Ok(Valid)
        }
        fn visit_unit<E>(self) -> Result<Valid, E> {
            Ok(Valid)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Valid, A::Error> {
            while seq.next_element::<Valid>()?.is_some() {}
            Ok(Valid)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
            while map.next_entry::<Valid, Valid>()?.is_some() {}
            Ok(Valid)
        }
    }
    serde_json::from_slice::<Valid>(body).is_ok()
}

fn parse_json(body: &[u8], what: &str) -> Result<Value, Problem> {
    serde_json::from_slice(body)
        .map_err(|e| Problem::not_a_cloudevent(format!("the {what} is not valid JSON: {e}")))
}

/// A `ce-*` header's decoded text, when it has a readable one.
fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| decode_header_value(name, v.as_bytes()).ok())
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
        format!("the required CloudEvent attribute `{attr}` is missing or empty; set it"),
    )
}

fn missing_header(attr: &str) -> EventError {
    EventError::new(
        "missing_attribute",
        format!(
            "the required CloudEvent attribute `{attr}` (header ce-{attr}) is missing or empty; \
             set the ce-{attr} header"
        ),
    )
}

/// The fix every header-encoding error names.
const PERCENT_FIX: &str = "percent-encode space, '\"', '%' and every character outside \
     U+0021-U+007E as the %XX octets of its UTF-8 form (e.g. \u{fc} as %C3%BC, a literal % as %25), \
     as the CloudEvents HTTP binding 1.0.2 section 3.1.3.2 requires, or send the event in \
     structured mode";

/// Decodes the value of one `ce-*` header into the attribute's text, as
/// the CloudEvents HTTP binding (1.0.2, section 3.1.3.2) says a receiver
/// must: a value that is one RFC 7230 quoted-string is unquoted first, then
/// one round of percent-decoding (upper or lower case hex) is applied and
/// the bytes must be UTF-8 (overlong forms and surrogates are refused).
///
/// Being liberal in what it accepts, the sink also takes raw UTF-8 bytes as
/// they are (senders such as the original Go exporter and sdk-go put the
/// text of an attribute into the header unencoded). For the same reason a
/// value that is not a valid percent-encoding (a `%` not followed by two hex
/// digits, as in `100%`, or escapes that decode to bytes that are no UTF-8,
/// as in a lone `%C3`) is taken literally when the header's own bytes are
/// UTF-8: such a value can only come from a sender that did not encode, and
/// refusing it would lose the trace. Only a header whose bytes are not UTF-8
/// at all (Latin-1 text, a cut character) is refused, with an
/// `invalid_attribute` error naming the header and the fix.
pub fn decode_header_value(header: &str, raw: &[u8]) -> Result<String, EventError> {
    let unquoted = unquote(raw);
    let raw = unquoted.as_deref().unwrap_or(raw);
    match percent_decode(header, raw) {
        Ok(text) => Ok(text),
        Err(e) => match std::str::from_utf8(raw) {
            Ok(literal) => {
                tracing::debug!(
                    header,
                    "header value is no valid percent-encoding; taken literally"
                );
                Ok(literal.to_string())
            }
            Err(_) => Err(e),
        },
    }
}

/// One round of strict percent-decoding to UTF-8 text.
fn percent_decode(header: &str, raw: &[u8]) -> Result<String, EventError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'%' {
            out.push(b);
            i += 1;
            continue;
        }
        let hex = |j: usize| raw.get(j).and_then(|c| (*c as char).to_digit(16));
        match (hex(i + 1), hex(i + 2)) {
            (Some(hi), Some(lo)) => {
                // Both digits are < 16, so the byte fits.
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            _ => {
                let seen = String::from_utf8_lossy(&raw[i..raw.len().min(i + 3)]).into_owned();
                return Err(EventError::new(
                    "invalid_attribute",
                    format!(
                        "the {header} header has a malformed percent-encoding at byte {i} ({seen:?}): \
                         '%' must be followed by two hex digits; {PERCENT_FIX}"
                    ),
                ));
            }
        }
    }
    String::from_utf8(out).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        EventError::new(
            "invalid_attribute",
            format!(
                "the {header} header is not UTF-8 text after percent-decoding (the bytes at \
                 decoded byte {at} are no UTF-8 character: Latin-1 text, a lone %C3, an overlong \
                 or surrogate form); {PERCENT_FIX}"
            ),
        )
    })
}

/// The content of a value that is exactly one RFC 7230 quoted-string
/// (`"..."` with `\\x` escapes), or `None` when it is not one.
fn unquote(raw: &[u8]) -> Option<Vec<u8>> {
    let inner = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => out.push(*bytes.next()?),
            b'"' => return None,
            _ => out.push(b),
        }
    }
    Some(out)
}

/// A binary-mode event with its `ce-*` header values already decoded, read
/// by the SDK's own event builder (so `time`, `dataschema` etc. are parsed
/// exactly as its `to_event` would, from the decoded text).
#[derive(Clone)]
struct BinaryMessage {
    /// Attribute or extension name (the header name without `ce-`), value.
    attributes: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl BinaryMessage {
    fn without(&self, name: &str) -> BinaryMessage {
        BinaryMessage {
            attributes: self
                .attributes
                .iter()
                .filter(|(n, _)| n != name)
                .cloned()
                .collect(),
            content_type: self.content_type.clone(),
            body: Vec::new(),
        }
    }
}

impl BinaryDeserializer for BinaryMessage {
    fn deserialize_binary<R: Sized, V: BinarySerializer<R>>(
        self,
        mut visitor: V,
    ) -> cloudevents::message::Result<R> {
        visitor = visitor.set_spec_version(SpecVersion::V10)?;
        let names = SpecVersion::V10.attribute_names();
        for (name, value) in self.attributes {
            let value = MessageAttributeValue::String(value);
            visitor = if names.contains(&name.as_str()) {
                visitor.set_attribute(&name, value)?
            } else {
                visitor.set_extension(&name, value)?
            };
        }
        if let Some(ct) = self.content_type {
            visitor =
                visitor.set_attribute("datacontenttype", MessageAttributeValue::String(ct))?;
        }
        if self.body.is_empty() {
            visitor.end()
        } else {
            visitor.end_with_data(self.body)
        }
    }
}

fn binary(headers: &HeaderMap, body: &[u8]) -> Result<Event, EventError> {
    let mut attributes = Vec::new();
    let mut version = None;
    for (name, value) in headers {
        let Some(attr) = name.as_str().strip_prefix("ce-") else {
            continue;
        };
        let text = decode_header_value(name.as_str(), value.as_bytes())?;
        if attr == "specversion" {
            version = Some(text);
        } else {
            attributes.push((attr.to_string(), text));
        }
    }
    let version = version.unwrap_or_default();
    if version.trim() != "1.0" {
        return Err(EventError::new(
            "unsupported_specversion",
            format!(
                "CloudEvents spec version {version:?} (header ce-specversion) is not supported; \
                 send ce-specversion: 1.0"
            ),
        ));
    }
    for attr in REQUIRED {
        let present = attributes
            .iter()
            .any(|(n, v)| n == attr && !v.trim().is_empty());
        if !present {
            return Err(missing_header(attr));
        }
    }
    let content_type = match headers.get(header::CONTENT_TYPE) {
        None => None,
        Some(v) => Some(v.to_str().map(str::to_string).map_err(|_| {
            EventError::new(
                "invalid_attribute",
                "the content-type header (the datacontenttype) is not ASCII text; \
                 send content-type: application/json",
            )
        })?),
    };
    let message = BinaryMessage {
        attributes,
        content_type,
        body: body.to_vec(),
    };
    BinaryDeserializer::into_event(message.clone()).map_err(|e| {
        // The SDK's message names no attribute: find the one it refused by
        // building the event without each parsed one in turn.
        let culprit = PARSED.iter().find(|(attr, _)| {
            message.attributes.iter().any(|(n, _)| n == attr)
                && BinaryDeserializer::into_event(message.without(attr)).is_ok()
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
        None => format!(
            "the CloudEvent is invalid: {sdk_error}; check its attributes against the CloudEvents \
             1.0 specification"
        ),
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
    let Value::Object(mut map) = value else {
        return Err(refuse(EventError::new(
            "not_a_cloudevent",
            format!(
                "a structured CloudEvent must be a JSON object, got {}",
                kind(&value)
            ),
        )));
    };
    check_structured_attributes(&map).map_err(refuse)?;
    // The `data` member (the trace: most of the event) is moved into the SDK's
    // event, not copied; only the attributes are kept, to name a refused one.
    let data = map.remove("data");
    let attributes = Value::Object(map.clone());
    if let Some(data) = data {
        map.insert("data".to_string(), data);
    }
    let event =
        Event::deserialize(Value::Object(map)).map_err(|e| refuse(sdk_refusal(e, &attributes)))?;
    rules.check(event).map_err(refuse)
}

/// The SDK's refusal of a structured event. As in binary mode, it names the
/// attribute the SDK refused when the attributes alone (`data` left out) are
/// refused and are accepted without that one.
fn sdk_refusal(sdk_error: impl std::fmt::Display, attributes: &Value) -> EventError {
    let attributes_refused = Event::deserialize(attributes).is_err();
    let culprit = PARSED.iter().find(|(attr, _)| {
        attributes_refused && attributes.get(attr).is_some() && {
            let mut rest = attributes.clone();
            rest.as_object_mut().map(|m| m.remove(*attr));
            Event::deserialize(&rest).is_ok()
        }
    });
    invalid_attribute(
        sdk_error,
        culprit.map(|(a, rule)| (format!("attribute `{a}`"), *rule)),
    )
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
