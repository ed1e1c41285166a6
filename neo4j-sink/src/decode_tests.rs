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
        ("dataschema", json!("not a uri"), "absolute URI"),
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

fn raw_headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
    let mut h = binary_headers("1.0");
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_bytes(v).expect("value"),
        );
    }
    h
}

fn one(h: &HeaderMap) -> Result<SinkEvent, RefusedEvent> {
    let d = decode(Mode::Binary, h, br#"{"trace_id":"t1"}"#, &rules()).expect("decodes");
    d.events.into_iter().next().expect("one")
}

#[test]
fn header_values_are_percent_decoded_as_the_http_binding_says() {
    // The examples of the CloudEvents HTTP binding 1.0.2, section 3.1.3.2,
    // and of the .NET SDK's tests (an implementation we did not write).
    for (encoded, text) in [
        ("Euro%20%E2%82%AC%20%F0%9F%98%80", "Euro \u{20ac} \u{1f600}"),
        ("simple", "simple"),
        ("space%20encoded", "space encoded"),
        ("percent%25encoded", "percent%encoded"),
        ("quote%22encoded", "quote\"encoded"),
        ("caf%C3%A9", "caf\u{e9}"),
        ("caf%c3%a9", "caf\u{e9}"),
        ("%41%42", "AB"),
        ("", ""),
        ("\"quoted value\"", "quoted value"),
        ("\"with \\\"escapes\\\"\"", "with \"escapes\""),
        ("\"a%20b\"", "a b"),
        ("\"unbalanced", "\"unbalanced"),
    ] {
        assert_eq!(
            decode_header_value("ce-subject", encoded.as_bytes()).as_deref(),
            Ok(text),
            "{encoded}"
        );
    }
    // Raw UTF-8 is taken as it is, alone or mixed with escapes.
    let raw = "b\u{fc}cket-\u{540d}\u{524d}-\u{202e}";
    assert_eq!(
        decode_header_value("ce-subject", raw.as_bytes()).as_deref(),
        Ok(raw)
    );
    assert_eq!(
        decode_header_value("ce-user", "j\u{fc}rgen%20%F0%9F%98%80".as_bytes()).as_deref(),
        Ok("j\u{fc}rgen \u{1f600}")
    );
}

#[test]
fn malformed_percent_sequences_from_senders_that_do_not_encode_are_taken_literally() {
    // A `%` without two hex digits, or escapes that decode to no UTF-8, can only come from a sender
    // that put the text in unencoded (sdk-go, the original exporter): refusing would lose the trace.
    for raw in [
        "%",
        "100%",
        "a%G1",
        "a%4",
        "%C3",
        "%C3%28",
        "%C0%A0",
        "%ED%A0%80",
        "%FF",
        "50% ü",
    ] {
        assert_eq!(
            decode_header_value("ce-subject", raw.as_bytes()).as_deref(),
            Ok(raw),
            "{raw:?}"
        );
    }
    // Well-formed escapes are still decoded, also next to a literal-looking `%` elsewhere.
    assert_eq!(
        decode_header_value("ce-subject", b"100%25").as_deref(),
        Ok("100%")
    );
}

#[test]
fn header_bytes_that_are_no_utf8_name_the_header_and_the_fix() {
    for raw in [b"caf\xe9".as_slice(), b"\xff\xfe", b"\xe5\x90", b"100%\xe9"] {
        let e = decode_header_value("ce-subject", raw).expect_err("refused");
        assert_eq!(e.error, "invalid_attribute");
        for word in ["ce-subject", "percent-encode", "%25", "structured mode"] {
            assert!(
                e.detail.contains(word),
                "{raw:?}: no {word:?} in {}",
                e.detail
            );
        }
    }
}

#[test]
fn non_ascii_attributes_arrive_percent_encoded_or_raw() {
    let subject = "b\u{fc}cket-\u{540d}\u{524d}-\u{202e}";
    let encoded = "b%C3%BCcket-%E5%90%8D%E5%89%8D-%E2%80%AE";
    for (value, project) in [
        (encoded.as_bytes(), "p%C3%A9".as_bytes()),
        (subject.as_bytes(), "p\u{e9}".as_bytes()),
    ] {
        let h = raw_headers(&[
            ("ce-subject", value),
            ("ce-user", "j%C3%BCrgen".as_bytes()),
            ("ce-project", project),
            ("ce-id", b"t%201"),
        ]);
        let e = one(&h).expect("accepted");
        assert_eq!(e.record.context.project_id, "p\u{e9}");
        assert_eq!(e.key.id, "t 1");
    }
    // The SDK parses the decoded text: an encoded time is a time.
    let h = raw_headers(&[("ce-time", b"2026-12-07T03%3A21%3A04.495Z")]);
    assert!(one(&h).is_ok());
    // A percent-encoded empty id is missing, and said so.
    let r = one(&raw_headers(&[("ce-id", b"%20")])).expect_err("refused");
    assert_eq!(r.reason.error, "missing_attribute");
    assert!(r.reason.detail.contains("ce-id"), "{}", r.reason.detail);
    // ce-specversion is decoded too.
    assert!(one(&raw_headers(&[("ce-specversion", b"1%2E0")])).is_ok());
    let r = one(&raw_headers(&[("ce-specversion", b"0.3")])).expect_err("refused");
    assert!(
        r.reason.detail.contains("ce-specversion"),
        "{}",
        r.reason.detail
    );
}

#[test]
fn structured_and_batch_carry_non_ascii_in_json() {
    let mut e = structured_event("\u{540d}-\u{1f600}");
    e["subject"] = json!("b\u{fc}cket-\u{540d}\u{524d}-\u{202e}");
    e["user"] = json!("j\u{fc}rgen");
    e["project"] = json!("p\u{e9}");
    e["data"]["resource_name"] = json!("b\u{fc}cket-\u{202e}\u{0}");
    let body = serde_json::to_vec(&e).expect("json");
    let d = decode(Mode::Structured, &HeaderMap::new(), &body, &rules()).expect("decodes");
    let s = d.events.into_iter().next().expect("one").expect("accepted");
    assert_eq!(s.key.id, "\u{540d}-\u{1f600}");
    assert_eq!(s.record.context.project_id, "p\u{e9}");
    assert_eq!(
        s.record.trace.resource_name.as_deref(),
        Some("b\u{fc}cket-\u{202e}\u{0}")
    );
    let body = serde_json::to_vec(&json!([e])).expect("json");
    let d = decode(Mode::Batch, &HeaderMap::new(), &body, &rules()).expect("decodes");
    assert!(d.events[0].is_ok());
}

/// The text path (`structured_text`, the trace decoded straight from the
/// event's JSON text) against the general path (`structured`, the event as a
/// `serde_json::Value` handed to the CloudEvents SDK): over combinations of
/// hostile attributes and data, both accept the same events with the same
/// records and refuse the same events for the same reason.
#[test]
fn the_text_path_decides_as_the_general_path_does() {
    let content_types = [
        None,
        Some(json!("application/json")),
        Some(json!("application/json; charset=utf-8")),
        Some(json!("text/json")),
        Some(json!("application/vnd.x+json")),
        Some(json!("application/vnd.x+json; charset=utf-8")),
        Some(json!("APPLICATION/JSON")),
        Some(json!("text/plain")),
        Some(json!(5)),
    ];
    let datas = [
        None,
        Some(
            json!({"trace_id": "t-ü", "resource_name": "bücket-名前-\u{202E}", "user": {"name": "jürgen"}}),
        ),
        Some(json!({})),
        Some(json!({"trace_id": "x", "time": "yesterday"})),
        Some(json!({"trace_id": "x", "user": 5})),
        Some(json!({"trace_id": "  "})),
        Some(
            json!({"trace_id": "x", "code": 201, "n": 1.5e300, "extra": [null, {"\u{0}": "\u{10FFFF}"}]}),
        ),
        Some(json!([1])),
        Some(json!("{\"trace_id\":\"in a string\"}")),
        Some(json!(null)),
    ];
    let base64s = [
        None,
        Some(json!("eyJ0cmFjZV9pZCI6ImI2NCJ9")),
        Some(json!("!!")),
    ];
    let times = [
        None,
        Some(json!("2026-12-07T03:21:04.495Z")),
        Some(json!("yesterday")),
    ];
    let types = [json!("com.otc.cts.trace.x"), json!("other.type")];
    let versions = [Some(json!("1.0")), Some(json!("0.3")), None];
    let ids = [Some(json!("a")), Some(json!("")), None, Some(json!(5))];
    let extensions = [
        None,
        Some(json!("p-ü")),
        Some(json!({"a": 1})),
        Some(json!(1.5)),
    ];
    let pick = |seed: &mut u64, n: usize| {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((*seed >> 33) as usize) % n
    };
    // The first case is the usual event; in the others each part is the usual
    // one three times in four, else any of its values.
    let choose = |seed: &mut u64, case: usize, usual: usize, n: usize| {
        if case == 0 || pick(seed, 4) > 0 {
            usual
        } else {
            pick(seed, n)
        }
    };
    let mut seed = 15_u64;
    let mut accepted = 0;
    let mut refused = 0;
    for case in 0..4000 {
        let mut e = Map::new();
        let set = |e: &mut Map<String, Value>, k: &str, v: &Option<Value>| {
            if let Some(v) = v {
                e.insert(k.to_string(), v.clone());
            }
        };
        set(
            &mut e,
            "specversion",
            &versions[choose(&mut seed, case, 0, 3)],
        );
        set(&mut e, "id", &ids[choose(&mut seed, case, 0, 4)]);
        e.insert(
            "source".into(),
            json!("https://cts.example/v3/p1?tracker=system"),
        );
        e.insert("type".into(), types[choose(&mut seed, case, 0, 2)].clone());
        set(
            &mut e,
            "datacontenttype",
            &content_types[choose(&mut seed, case, 1, 9)],
        );
        set(&mut e, "time", &times[choose(&mut seed, case, 1, 3)]);
        set(
            &mut e,
            "project",
            &extensions[choose(&mut seed, case, 1, 4)],
        );
        set(&mut e, "data", &datas[choose(&mut seed, case, 1, 10)]);
        set(
            &mut e,
            "data_base64",
            &base64s[choose(&mut seed, case, 0, 3)],
        );
        let mut text = Value::Object(e).to_string();
        if case % 97 == 5 {
            // A repeated `data` member: the last one counts in both paths.
            text = text.replacen('{', r#"{"data":{"trace_id":"first"},"#, 1);
        }
        let raw: &RawValue = serde_json::from_str(&text).expect("valid JSON");
        let value: Value = serde_json::from_str(&text).expect("valid JSON");
        let fast = structured_text(raw, 3, &rules());
        let general = structured(value, 3, &rules());
        match (&fast, &general) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{text}");
                accepted += 1;
            }
            (Err(a), Err(b)) => {
                assert_eq!(
                    (a.index, &a.id, a.reason.error),
                    (b.index, &b.id, b.reason.error),
                    "{text}: {} / {}",
                    a.reason.detail,
                    b.reason.detail
                );
                refused += 1;
            }
            _ => panic!("{text}: text path {fast:?}, general path {general:?}"),
        }
    }
    assert!(
        accepted > 50 && refused > 50,
        "{accepted} accepted, {refused} refused"
    );
}

#[test]
fn a_batch_decodes_as_its_events_do_alone() {
    let events: Vec<Value> = (0..20)
        .map(|i| {
            let mut e = structured_event(&format!("id-{i}-ü"));
            if i % 5 == 3 {
                e["data"] = json!([i]);
            }
            e
        })
        .collect();
    let body = serde_json::to_vec(&events).expect("json");
    let batch = decode(Mode::Batch, &HeaderMap::new(), &body, &rules()).expect("decodes");
    assert_eq!(batch.events.len(), 20);
    for (i, (got, e)) in batch.events.iter().zip(&events).enumerate() {
        let alone = structured(e.clone(), i, &rules());
        match (got, &alone) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("event {i}: {got:?} / {alone:?}"),
        }
        assert_eq!(got.is_err(), i % 5 == 3);
    }
}

/// What `decode` answered before the text path: the whole body parsed as a
/// `serde_json::Value`, each event through the general path.
fn general_decode(
    mode: Mode,
    body: &[u8],
) -> Result<Vec<Result<SinkEvent, RefusedEvent>>, Problem> {
    let what = "body";
    Ok(match (mode, parse_json(body, what)?) {
        (Mode::Batch, Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| structured(v, i, &rules()))
            .collect(),
        (Mode::Batch, _) => return Err(Problem::not_a_cloudevent("not an array")),
        (_, v) => vec![structured(v, 0, &rules())],
    })
}

/// Bodies that are JSON to a `RawValue` but not to a `Value` (numbers out of
/// range, lone surrogates, nesting at and past the recursion limit), escaped
/// member names, and their neighbours that are fine: `decode` accepts and
/// refuses exactly what the general path does, whole requests included.
#[test]
fn json_edge_cases_are_decided_as_the_general_path_decides_them() {
    let event = |data: &str| {
        format!(
            r#"{{"specversion":"1.0","id":"e","source":"s","type":"com.otc.cts.trace.x","data":{data}}}"#
        )
    };
    let nested = |depth: usize| {
        format!(
            r#"{{"trace_id":"t","request":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    let mut datas: Vec<String> = [
        r#"{"trace_id":"t","code":1e400}"#,
        r#"{"trace_id":"t","code":-1e309}"#,
        r#"{"trace_id":"t","code":1e308}"#,
        r#"{"trace_id":"t","code":18446744073709551616}"#,
        r#"{"trace_id":"t","resource_name":"\ud800"}"#,
        r#"{"trace_id":"t","resource_name":"\ud800x"}"#,
        r#"{"trace_id":"t","resource_name":"\udc00\ud800"}"#,
        r#"{"trace_id":"t","resource_name":"\ud83d\ude00 \u00fc"}"#,
        r#"{"trace_\u0069d":"escaped key","x":"\"\\\/\b\f\n\r\t"}"#,
        r#"{"trace_id":"t","trace_id":"repeated: the last wins"}"#,
        r#"{"trace_id":"t","user":{"name":"a"},"user":{"name":"b","name":"c"},"x":1,"x":2}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    datas.extend((120..=130).map(nested));
    let mut bodies = Vec::new();
    for d in &datas {
        bodies.push((Mode::Structured, event(d)));
        bodies.push((
            Mode::Batch,
            format!("[{},{}]", event(r#"{"trace_id":"ok"}"#), event(d)),
        ));
        // The data member's name escaped, and the attributes' values hostile.
        bodies.push((
            Mode::Structured,
            event(d).replace(r#""data":"#, r#""d\u0061ta":"#),
        ));
        bodies.push((
            Mode::Structured,
            event(d).replace(r#""id":"e""#, r#""id":"\ud800""#),
        ));
    }
    let mut wholly_refused = 0;
    for (mode, body) in &bodies {
        let got = decode(*mode, &HeaderMap::new(), body.as_bytes(), &rules()).map(|d| d.events);
        let want = general_decode(*mode, body.as_bytes());
        match (&got, &want) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), b.len(), "{body}");
                for (x, y) in a.iter().zip(b) {
                    match (x, y) {
                        (Ok(x), Ok(y)) => assert_eq!(x, y, "{body}"),
                        (Err(x), Err(y)) => assert_eq!(
                            (x.index, &x.id, x.reason.error),
                            (y.index, &y.id, y.reason.error),
                            "{body}"
                        ),
                        _ => panic!("{body}: {x:?} / {y:?}"),
                    }
                }
            }
            (Err(a), Err(_)) => {
                assert_eq!(a.error, "not_a_cloudevent", "{body}");
                wholly_refused += 1;
            }
            _ => panic!("{body}: decode {got:?}, general path {want:?}"),
        }
    }
    assert!(wholly_refused >= 8, "{wholly_refused}");
}
