//! The typed view of one CTS trace, tolerant of every wire shape that
//! the OTC documentation describes (<https://github.com/opentelekomcloud-docs/cloud-trace-service/blob/main/api-ref/source/v3_apis_recommended/trace_management/querying_a_trace_list.rst>, and the v1.0/v2.0 pages beside it) or
//! gophertelekomcloud's model implies (`openstack/cts/v2/traces`, <https://github.com/opentelekomcloud/gophertelekomcloud>).
//!
//! The same struct is used by the client (decoding list pages), the sink
//! (decoding CloudEvent data) and the graph mapping. It never fails on an
//! unknown field: those are kept in [`Trace::extra`] and written back when
//! the trace is serialized again.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// One audit record of the Cloud Trace Service.
///
/// Deserialization accepts the documented example shape and the inferred
/// real shape alike: `code` as string or number, `user` as object, JSON
/// string or null, `request`/`response` as string or object, times as
/// numbers or numeric strings, and the status under `trace_rating` or the
/// v2 name `trace_status`. Serialization always writes the canonical names
/// (`trace_rating`, `code` as string, times as numbers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(from = "RawTrace")]
pub struct Trace {
    /// Trace id (a UUID); the identity of the trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Operation name, e.g. `deleteEip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_name: Option<String>,
    /// Outcome rating: normal, warning or incident (`trace_status` on some v2 endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_rating: Option<TraceRating>,
    /// Source of the operation: `ApiCall`, `ConsoleAction` or `SystemAction`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_type: Option<String>,
    /// The audited request body, raw as sent by CTS (usually a JSON string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    /// The audited response body, raw as sent by CTS (string or object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    /// HTTP status code of the audited call, normalized to a string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// API version of the audited service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Remarks; reserved by CTS, usually null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// When CTS recorded the trace, epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_time: Option<i64>,
    /// When the operation happened, epoch milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<i64>,
    /// Who acted; absent for some `SystemAction` traces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserInfo>,
    /// Upper-case service acronym, e.g. `ECS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// Resource type, e.g. `eip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Resource name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Resource id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// IP address the call came from; empty for system actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Request id of the audited call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extra location information, e.g. `resource has been deleted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location_info: Option<String>,
    /// Console endpoint of the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// URL path of the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_url: Option<String>,
    /// Every field this struct does not name, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Trace {
    /// The trace id, if present and not blank.
    pub fn id(&self) -> Option<&str> {
        self.trace_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// Decodes a trace from its JSON text with the outcome of decoding the
    /// text into a [`serde_json::Value`] and that into a `Trace`, but without
    /// building the `Value` when the text decodes directly, which takes about
    /// half the time (`cargo bench -p cts-client --bench decode`: 1.5 against
    /// 2.8 µs for a trace of 870 bytes).
    ///
    /// The two ways differ only where the text is unusual: a member repeated
    /// in an object counts once in a `Value`, its last value winning, while
    /// decoding directly refuses a repeated field. So whenever the direct
    /// decoding fails, the text is decoded through a `Value`, and that result,
    /// success or error, is the answer: the same as `serde_json::from_value`
    /// of `serde_json::from_str` in every case.
    ///
    /// # Errors
    ///
    /// The text is not JSON, or not a trace (see [`Trace`] for what is
    /// accepted).
    pub fn from_json_str(text: &str) -> Result<Trace, serde_json::Error> {
        serde_json::from_str(text)
            .or_else(|_| serde_json::from_value(serde_json::from_str::<Value>(text)?))
    }
}

/// The outcome rating of a trace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TraceRating {
    /// The operation succeeded.
    Normal,
    /// The operation failed.
    Warning,
    /// The operation caused a serious consequence (node failure, service interruption).
    Incident,
    /// A value CTS did not document, kept verbatim (lower case).
    Other(String),
}

impl TraceRating {
    /// The wire name: `normal`, `warning`, `incident` or the unknown value.
    pub fn as_str(&self) -> &str {
        match self {
            TraceRating::Normal => "normal",
            TraceRating::Warning => "warning",
            TraceRating::Incident => "incident",
            TraceRating::Other(s) => s,
        }
    }

    /// Parses a wire value, case-insensitively. Never fails.
    pub fn parse(s: &str) -> TraceRating {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "normal" => TraceRating::Normal,
            "warning" => TraceRating::Warning,
            "incident" => TraceRating::Incident,
            _ => TraceRating::Other(lower),
        }
    }
}

impl fmt::Display for TraceRating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TraceRating {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TraceRating {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(TraceRating::parse(&s))
    }
}

/// The user who acted (CTS `UserInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UserInfo {
    /// User (account) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// User (account) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The user's domain (OTC tenant account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainInfo>,
    /// Every other field (`assumedBy`, Huawei extensions, ...), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A domain reference inside [`UserInfo`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DomainInfo {
    /// Domain id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Domain name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every other field, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The wire form, read field by field with tolerant deserializers.
#[derive(Deserialize)]
struct RawTrace {
    #[serde(default, deserialize_with = "opt_string")]
    trace_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    trace_name: Option<String>,
    #[serde(default, deserialize_with = "opt_rating")]
    trace_rating: Option<TraceRating>,
    #[serde(default, deserialize_with = "opt_rating")]
    trace_status: Option<TraceRating>,
    #[serde(default, deserialize_with = "opt_string")]
    trace_type: Option<String>,
    #[serde(default, deserialize_with = "opt_value")]
    request: Option<Value>,
    #[serde(default, deserialize_with = "opt_value")]
    response: Option<Value>,
    #[serde(default, deserialize_with = "opt_string")]
    code: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    api_version: Option<String>,
    #[serde(default, deserialize_with = "opt_value")]
    message: Option<Value>,
    #[serde(default, deserialize_with = "opt_millis")]
    record_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_millis")]
    time: Option<i64>,
    #[serde(default, deserialize_with = "opt_user")]
    user: Option<UserInfo>,
    #[serde(default, deserialize_with = "opt_string")]
    service_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    resource_type: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    resource_name: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    resource_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    source_ip: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    request_id: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    location_info: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    endpoint: Option<String>,
    #[serde(default, deserialize_with = "opt_string")]
    resource_url: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<RawTrace> for Trace {
    fn from(r: RawTrace) -> Self {
        Trace {
            trace_id: r.trace_id,
            trace_name: r.trace_name,
            trace_rating: r.trace_rating.or(r.trace_status),
            trace_type: r.trace_type,
            request: r.request,
            response: r.response,
            code: r.code,
            api_version: r.api_version,
            message: r.message,
            record_time: r.record_time,
            time: r.time,
            user: r.user,
            service_type: r.service_type,
            resource_type: r.resource_type,
            resource_name: r.resource_name,
            resource_id: r.resource_id,
            source_ip: r.source_ip,
            request_id: r.request_id,
            location_info: r.location_info,
            endpoint: r.endpoint,
            resource_url: r.resource_url,
            extra: r.extra,
        }
    }
}

/// A string, or a number/bool rendered as a string; null stays `None`.
fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(de::Error::custom(format!(
            "expected a string or a number, got {}",
            kind(&other)
        ))),
    }
}

fn opt_rating<'de, D: Deserializer<'de>>(d: D) -> Result<Option<TraceRating>, D::Error> {
    Ok(opt_string(d)?
        .filter(|s| !s.trim().is_empty())
        .map(|s| TraceRating::parse(&s)))
}

fn opt_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => Ok(Some(v)),
    }
}

/// Epoch milliseconds as an integer, a float without fraction, or a numeric string.
fn opt_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                Ok(Some(f as i64))
            } else {
                Err(de::Error::custom(format!(
                    "expected epoch milliseconds, got the number {n}"
                )))
            }
        }
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
            de::Error::custom(format!(
                "expected epoch milliseconds, got the string {:?}",
                truncate(&s)
            ))
        }),
        other => Err(de::Error::custom(format!(
            "expected epoch milliseconds, got {}",
            kind(&other)
        ))),
    }
}

/// `user` as an object, a string holding a JSON object (v1), or null/"".
fn opt_user<'de, D: Deserializer<'de>>(d: D) -> Result<Option<UserInfo>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => serde_json::from_str::<UserInfo>(&s).map(Some).map_err(|e| {
            de::Error::custom(format!("user is a string but not a JSON user object: {e}"))
        }),
        v @ Value::Object(_) => serde_json::from_value::<UserInfo>(v)
            .map(Some)
            .map_err(|e| de::Error::custom(format!("user: {e}"))),
        other => Err(de::Error::custom(format!(
            "expected user as an object or a JSON string, got {}",
            kind(&other)
        ))),
    }
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

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_example_shape() {
        let t: Trace = serde_json::from_value(json!({
            "time": 1472148708232_i64,
            "user": {"name": "xxx", "domain": {"name": "xxx", "id": "ded649d814464428ba89d04d7955c93e"}},
            "response": {"code": "VPC.0514", "message": "Update port fail."},
            "code": 200,
            "service_type": "VPC", "resource_type": "eip", "resource_name": "192.144.163.1",
            "resource_id": "d502809d-0d1d-41ce-9690-784282142ccc",
            "trace_name": "deleteEip", "trace_rating": "warning", "trace_type": "ConsoleAction",
            "api_version": "2.0", "record_time": 1481066128032_i64,
            "trace_id": "e001ccb9-bc09-11e6-b00b-4b2a61338db6"
        }))
        .expect("decodes");
        assert_eq!(t.code.as_deref(), Some("200"));
        assert_eq!(t.trace_rating, Some(TraceRating::Warning));
        assert_eq!(t.time, Some(1472148708232));
        assert_eq!(t.user.as_ref().and_then(|u| u.name.as_deref()), Some("xxx"));
        assert!(t.response.as_ref().is_some_and(Value::is_object));
        assert!(t.extra.is_empty());
    }

    #[test]
    fn inferred_real_shape_and_v2_status() {
        let t: Trace = serde_json::from_value(json!({
            "trace_id": "a", "code": "201", "time": "1597042369296", "record_time": 1597042369300_i64,
            "user": "{\"name\":\"alice\",\"domain\":{\"id\":\"d1\",\"name\":\"dom\"},\"assumedBy\":{\"user\":{}}}",
            "request": "{\"x\":1}", "trace_status": "Incident", "event_type": "global"
        }))
        .expect("decodes");
        assert_eq!(t.time, Some(1597042369296));
        assert_eq!(t.trace_rating, Some(TraceRating::Incident));
        let user = t.user.as_ref().expect("user");
        assert_eq!(user.name.as_deref(), Some("alice"));
        assert!(user.extra.contains_key("assumedBy"));
        assert_eq!(t.extra.get("event_type"), Some(&json!("global")));
        assert_eq!(t.request, Some(json!("{\"x\":1}")));
    }

    #[test]
    fn null_user_and_missing_fields() {
        let t: Trace =
            serde_json::from_value(json!({"trace_id": "b", "user": null, "source_ip": null}))
                .expect("decodes");
        assert!(t.user.is_none());
        assert!(t.source_ip.is_none());
        assert_eq!(t.id(), Some("b"));
        let blank: Trace = serde_json::from_value(json!({"trace_id": "  "})).expect("decodes");
        assert_eq!(blank.id(), None);
    }

    #[test]
    fn roundtrip_keeps_unknown_fields_and_canonical_names() {
        let t: Trace = serde_json::from_value(json!({
            "trace_id": "c", "trace_status": "normal", "code": 204, "read_only": true
        }))
        .expect("decodes");
        let v = serde_json::to_value(&t).expect("encodes");
        assert_eq!(v["trace_rating"], json!("normal"));
        assert_eq!(v["code"], json!("204"));
        assert_eq!(v["read_only"], json!(true));
        assert!(v.get("trace_status").is_none());
        let again: Trace = serde_json::from_value(v).expect("decodes again");
        assert_eq!(again, t);
    }

    /// Found by the `trace_decode` fuzz target: a long decimal in an unknown
    /// field came back from serialize/decode one ULP off, so the sink stored
    /// a different value than the exporter read. serde_json needs its
    /// `float_roundtrip` feature for correctly rounded parsing.
    #[test]
    fn long_decimals_survive_a_round_trip_exactly() {
        let digits = format!("169580000{}0001", "5".repeat(121));
        for number in [digits.as_str(), "2.2250738585072011e-308"] {
            let text = format!(r#"{{"trace_id":"f","reading":{number}}}"#);
            let t: Trace = serde_json::from_str(&text).expect("decodes");
            let again: Trace = serde_json::from_slice(&serde_json::to_vec(&t).expect("encodes"))
                .expect("decodes again");
            assert_eq!(again, t, "{number}");
            let expected: f64 = number.parse().expect("a float");
            assert_eq!(t.extra["reading"].as_f64(), Some(expected), "{number}");
        }
    }

    /// `from_json_str` against what it promises: the outcome of decoding
    /// through a `Value`, for repeated members (which decoding directly
    /// refuses), hostile numbers and text, wrong types and broken JSON.
    #[test]
    fn from_json_str_decides_as_decoding_through_a_value_does() {
        let texts = [
            r#"{"trace_id":"a","trace_id":"b"}"#,
            r#"{"trace_id":"a","user":{"name":"x"},"user":{"name":"y","name":"z"}}"#,
            r#"{"trace_id":"a","time":1,"time":"2","x":1,"y":2,"x":3}"#,
            r#"{"trace_id":"a","trace_rating":"normal","trace_status":"incident","trace_rating":"warning"}"#,
            r#"{"trace_id":"a","user":"{\"name\":\"s\",\"name\":\"t\"}"}"#,
            r#"{"trace_id":"a","code":1e400}"#,
            r#"{"trace_id":"a","code":18446744073709551616,"n":-0.0}"#,
            r#"{"trace_id":"a","resource_name":"\ud83d\ude00 bücket-名前-\u202e","request":{"a":[1,{"b":null}]}}"#,
            r#"{"trace_id":"a","resource_name":"\ud800"}"#,
            r#"{"trace_id":"a","time":"yesterday"}"#,
            r#"{"trace_id":["a"]}"#,
            r#"{"trace_id":"a","user":5}"#,
            r#"{"trace_id":"a""#,
            r#"{"trace_id":"a"} trailing"#,
            r#"[{"trace_id":"a"}]"#,
            r#"null"#,
            "",
            r#"{}"#,
        ];
        let mut repeated_refused_directly = 0;
        for text in texts {
            let via_value =
                serde_json::from_str::<Value>(text).and_then(serde_json::from_value::<Trace>);
            let got = Trace::from_json_str(text);
            match (&got, &via_value) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{text}: {got:?} / {via_value:?}"),
            }
            if via_value.is_ok() && serde_json::from_str::<Trace>(text).is_err() {
                repeated_refused_directly += 1;
            }
        }
        // The fallback is needed: decoding directly refuses what a Value accepts.
        assert!(
            repeated_refused_directly >= 3,
            "{repeated_refused_directly}"
        );
        let t = Trace::from_json_str(texts[0]).expect("decodes");
        assert_eq!(t.id(), Some("b"), "the last value wins, as in a Value");
    }

    #[test]
    fn wrong_types_give_clear_errors() {
        let e = serde_json::from_value::<Trace>(json!({"trace_id": "d", "time": "yesterday"}))
            .expect_err("rejects");
        assert!(e.to_string().contains("epoch milliseconds"), "{e}");
        let e = serde_json::from_value::<Trace>(json!({"trace_id": ["x"]})).expect_err("rejects");
        assert!(e.to_string().contains("expected a string"), "{e}");
        let e = serde_json::from_value::<Trace>(json!({"user": 5})).expect_err("rejects");
        assert!(e.to_string().contains("user"), "{e}");
    }
}
