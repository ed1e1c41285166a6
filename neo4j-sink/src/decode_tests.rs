//! Unit tests of the content modes and of request decoding.

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
fn non_ascii_required_header_is_named_not_called_missing() {
    let mut h = binary_headers("1.0");
    h.insert(
        "ce-source",
        HeaderValue::from_bytes(b"caf\xe9").expect("obs-text"),
    );
    let d = decode(Mode::Binary, &h, br#"{"trace_id":"t1"}"#, &rules()).expect("decodes");
    let refused = d
        .events
        .into_iter()
        .next()
        .expect("one")
        .expect_err("refused");
    assert_eq!(refused.reason.error, "invalid_attribute");
    assert!(
        refused.reason.detail.contains("ce-source")
            && refused.reason.detail.contains("percent-encode")
    );
}

#[test]
fn structured_text_datacontenttype_is_invalid_data_whatever_the_data() {
    for data in [json!({"trace_id": "a"}), json!("{\"trace_id\": \"a\"}")] {
        let mut e = structured_event("a");
        e["datacontenttype"] = json!("text/plain");
        e["data"] = data;
        let body = serde_json::to_vec(&e).expect("json");
        let d = decode(Mode::Structured, &HeaderMap::new(), &body, &rules()).expect("decodes");
        let refused = d
            .events
            .into_iter()
            .next()
            .expect("one")
            .expect_err("refused");
        assert_eq!(refused.reason.error, "invalid_data");
        assert!(
            refused.reason.detail.contains("text/plain"),
            "{}",
            refused.reason.detail
        );
    }
}

#[test]
fn bodies_that_are_not_events() {
    let p = decode(Mode::Structured, &HeaderMap::new(), b"not json", &rules()).expect_err("400");
    assert_eq!(p.error, "not_a_cloudevent");
    let p = decode(Mode::Batch, &HeaderMap::new(), b"{}", &rules()).expect_err("400");
    assert!(p.detail.contains("JSON array"), "{}", p.detail);
}

#[test]
fn the_attribute_the_sdk_refuses_is_named_with_its_rule() {
    for (attr, value, rule) in [
        ("time", json!("yesterday"), "RFC 3339"),
        ("time", json!("10000-01-01T00:00:00Z"), "RFC 3339"),
        ("data_base64", json!("!!not base64!!"), "base64"),
    ] {
        let mut e = structured_event("a");
        if attr == "data_base64" {
            e.as_object_mut().expect("object").remove("data");
        }
        e[attr] = value;
        let body = serde_json::to_vec(&e).expect("json");
        let d = decode(Mode::Structured, &HeaderMap::new(), &body, &rules()).expect("decodes");
        let refused = d
            .events
            .into_iter()
            .next()
            .expect("one")
            .expect_err("refused");
        assert_eq!(refused.reason.error, "invalid_attribute");
        let detail = refused.reason.detail;
        assert!(
            detail.contains(&format!("`{attr}`")) && detail.contains(rule),
            "{detail}"
        );
    }
    let mut h = binary_headers("1.0");
    h.insert("ce-time", HeaderValue::from_static("not-a-time"));
    let d = decode(Mode::Binary, &h, br#"{"trace_id":"t1"}"#, &rules()).expect("decodes");
    let refused = d
        .events
        .into_iter()
        .next()
        .expect("one")
        .expect_err("refused");
    assert_eq!(refused.reason.error, "invalid_attribute");
    assert!(
        refused.reason.detail.contains("ce-time header"),
        "{}",
        refused.reason.detail
    );
}

#[test]
fn an_extension_that_is_no_scalar_is_named() {
    for (value, got) in [
        (json!({"a": 1}), "an object"),
        (json!(1.5), "not a whole"),
        (json!(null), "null"),
    ] {
        let mut e = structured_event("a");
        e["service"] = value;
        let body = serde_json::to_vec(&e).expect("json");
        let d = decode(Mode::Structured, &HeaderMap::new(), &body, &rules()).expect("decodes");
        let refused = d
            .events
            .into_iter()
            .next()
            .expect("one")
            .expect_err("refused");
        assert_eq!(refused.reason.error, "invalid_attribute");
        let detail = refused.reason.detail;
        assert!(
            detail.contains("`service`") && detail.contains(got),
            "{detail}"
        );
    }
    let mut e = structured_event("a");
    e["rank"] = json!(7);
    e["flag"] = json!(true);
    let body = serde_json::to_vec(&e).expect("json");
    let d = decode(Mode::Structured, &HeaderMap::new(), &body, &rules()).expect("decodes");
    assert!(
        d.events[0].is_ok(),
        "integer and boolean extensions are accepted"
    );
}
