//! The HTTP form of an event, written here rather than by the CloudEvents SDK.
//!
//! The SDK's reqwest binding copies attribute values into `ce-*` headers as
//! they are, so a subject such as `bücket` leaves as raw UTF-8 bytes and a
//! user `Max Mustermann` with an unencoded space; its time ends in `+00:00`.
//! The HTTP protocol binding 1.0.2 (section 3.1.3.2) says header values are
//! percent-encoded and receivers decode them, and receivers written in Go
//! (the original sink among them) want the time in UTC with `Z`. So binary
//! mode is written by [`binary`], structured mode by [`structured`], a batch
//! by [`batch`], and all of them format the time with [`format_time`].

use chrono::{DateTime, SecondsFormat, Utc};
use cloudevents::event::{AttributeValue, ExtensionValue};
use cloudevents::{AttributesReader, Data, Event};

use crate::Error;

/// The media type of a structured-mode event.
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

/// The media type of a batch of events.
pub const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// An event in binary content mode: `ce-*` headers, `content-type`, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryMessage {
    /// `(ce-<attribute>, percent-encoded value)`, `ce-specversion` first.
    pub headers: Vec<(String, String)>,
    /// The `datacontenttype`, sent as `content-type` (not percent-encoded:
    /// it is a media type, whose syntax HTTP already defines).
    pub content_type: Option<String>,
    /// The data: JSON text, the string's UTF-8 bytes, or the binary data.
    pub body: Vec<u8>,
}

/// `time` as RFC 3339 in UTC with a `Z`, with as many fraction digits as it
/// has (`2026-12-07T03:21:04.495Z`, `2026-12-07T03:21:04Z`).
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Percent-encodes a header value as the CloudEvents HTTP binding 1.0.2,
/// section 3.1.3.2, says: space, `"`, `%` and every character outside
/// U+0021..=U+007E become `%XY` per byte of their UTF-8 form, upper-case hex;
/// everything else stays as it is. The result is printable ASCII, so it is a
/// valid HTTP header value whatever the input.
pub fn percent_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        // Bytes >= 0x80 are the UTF-8 octets of non-ASCII characters: each is
        // encoded on its own, which is exactly "encode each byte of the UTF-8
        // sequence" (a str is valid UTF-8, so no surrogate can occur).
        if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The canonical string form of an attribute (CloudEvents 1.0 "Type System").
fn attribute_text(value: &AttributeValue<'_>) -> String {
    match value {
        AttributeValue::Time(t) => format_time(t),
        other => other.to_string(),
    }
}

/// The canonical string form of an extension value.
fn extension_text(value: &ExtensionValue) -> String {
    match value {
        ExtensionValue::String(s) => s.clone(),
        ExtensionValue::Boolean(b) => b.to_string(),
        ExtensionValue::Integer(i) => i.to_string(),
    }
}

/// The event in binary content mode, every header value percent-encoded.
///
/// # Errors
///
/// [`Error::Encode`] if the JSON data cannot be written.
pub fn binary(event: &Event) -> Result<BinaryMessage, Error> {
    let mut headers = Vec::with_capacity(16);
    let mut content_type = None;
    for (name, value) in event.iter_attributes() {
        if name == "datacontenttype" {
            content_type = Some(attribute_text(&value));
            continue;
        }
        headers.push((
            format!("ce-{name}"),
            percent_encode(&attribute_text(&value)),
        ));
    }
    for (name, value) in event.iter_extensions() {
        headers.push((format!("ce-{name}"), percent_encode(&extension_text(value))));
    }
    let body = match event.data() {
        None => Vec::new(),
        Some(Data::Json(v)) => serde_json::to_vec(v)?,
        Some(Data::String(s)) => s.as_bytes().to_vec(),
        Some(Data::Binary(b)) => b.clone(),
    };
    Ok(BinaryMessage {
        headers,
        content_type,
        body,
    })
}

/// The event in structured content mode (`application/cloudevents+json`),
/// with `time` written by [`format_time`]. Per the JSON event format 1.0.2,
/// `data` is JSON when it is JSON, a string when it is text, and binary data
/// travels base64-encoded in `data_base64`.
///
/// # Errors
///
/// [`Error::Encode`] if the event cannot be written as JSON.
pub fn structured(event: &Event) -> Result<Vec<u8>, Error> {
    Ok(serde_json::to_vec(&Structured(event))?)
}

/// Several events as one `application/cloudevents-batch+json` body: a JSON
/// array of structured events (JSON event format 1.0.2, section 4), each
/// written as [`structured`] writes it. An empty slice gives `[]`.
///
/// # Errors
///
/// [`Error::Encode`] if an event cannot be written as JSON.
pub fn batch(events: &[Event]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(events.len().saturating_mul(1024) + 2);
    out.push(b'[');
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &Structured(event))?;
    }
    out.push(b']');
    Ok(out)
}

/// An event in the JSON event format, written straight from the event: the
/// members in the order the SDK writes them (`specversion`, `id`, `type`,
/// `source`, `datacontenttype`, `dataschema`, `subject`, `time`, the data,
/// the extensions), `time` by [`format_time`], JSON data as JSON, text data
/// as a string and binary data base64-encoded in `data_base64`. The data is
/// not copied into an intermediate `serde_json::Value` (a trace is most of
/// the event; copying it cost the exporter a deep copy per event).
struct Structured<'a>(&'a Event);

impl serde::Serialize for Structured<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let event = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("specversion", event.specversion().as_str())?;
        map.serialize_entry("id", event.id())?;
        map.serialize_entry("type", event.ty())?;
        map.serialize_entry("source", event.source().as_str())?;
        if let Some(ct) = event.datacontenttype() {
            map.serialize_entry("datacontenttype", ct)?;
        }
        if let Some(schema) = event.dataschema() {
            map.serialize_entry("dataschema", schema.as_str())?;
        }
        if let Some(subject) = event.subject() {
            map.serialize_entry("subject", subject)?;
        }
        if let Some(time) = event.time() {
            map.serialize_entry("time", &format_time(time))?;
        }
        match event.data() {
            Some(Data::Json(v)) => map.serialize_entry("data", v)?,
            Some(Data::String(s)) => map.serialize_entry("data", s)?,
            Some(Data::Binary(b)) => {
                use base64::Engine;
                map.serialize_entry(
                    "data_base64",
                    &base64::engine::general_purpose::STANDARD.encode(b),
                )?
            }
            None => {}
        }
        for (name, value) in event.iter_extensions() {
            match value {
                ExtensionValue::String(s) => map.serialize_entry(name, s)?,
                ExtensionValue::Boolean(b) => map.serialize_entry(name, b)?,
                ExtensionValue::Integer(i) => map.serialize_entry(name, i)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
#[path = "encoding_tests.rs"]
mod tests;
