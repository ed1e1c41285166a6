use super::*;
use cloudevents::{EventBuilder, EventBuilderV10};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::json;

/// The spec's rule written with the `percent-encoding` crate (the `url`
/// crate's encoder), an implementation we did not write: it encodes
/// non-ASCII bytes always, `CONTROLS` is U+0000..=U+001F and U+007F.
const SPEC_SET: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

fn reference(s: &str) -> String {
    utf8_percent_encode(s, SPEC_SET).to_string()
}

/// A decoder as the spec describes it, to check round trips.
fn decode(s: &str) -> String {
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(s).collect();
    String::from_utf8(bytes).expect("decodes to valid UTF-8")
}

fn hostile() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "jürgen",
        "Max Mustermann",
        "bücket-名前-\u{202E}",
        "\u{200F}שלום\u{200F}",
        "Straße ÄÖÜ äöü",
        "Иван Петров",
        "Κώστας",
        "محمد",
        "😀👩‍👩‍👧 emoji",
        "%41 is not A",
        "100%",
        "\"quoted\"",
        "a\r\nInjected: header",
        "tab\there",
        "nul\0byte",
        "\u{7f}\u{80}\u{9f}\u{a0}",
        "\u{FEFF}bom",
        "\u{10FFFF}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Every character from U+0000 to U+07FF, and a huge value.
    v.push((0u32..0x800).filter_map(char::from_u32).collect());
    v.push("名前-ü ".repeat(100_000));
    v
}

#[test]
fn the_spec_example_is_encoded_as_the_spec_says() {
    // http-protocol-binding.md 1.0.2, section 3.1.3.2.
    assert_eq!(
        percent_encode("Euro \u{20AC} \u{1F600}"),
        "Euro%20%E2%82%AC%20%F0%9F%98%80"
    );
}

#[test]
fn each_ascii_character_follows_the_rule() {
    for b in 0u8..=0x7f {
        let c = char::from(b);
        let got = percent_encode(&c.to_string());
        let must_encode = !(0x21..=0x7e).contains(&b) || c == ' ' || c == '"' || c == '%';
        if must_encode {
            assert_eq!(got, format!("%{b:02X}"), "U+{b:04X} must be encoded");
        } else {
            assert_eq!(got, c.to_string(), "U+{b:04X} must stay as it is");
        }
    }
}

#[test]
fn non_ascii_is_encoded_per_utf8_byte_in_upper_case() {
    assert_eq!(percent_encode("jürgen"), "j%C3%BCrgen");
    assert_eq!(
        percent_encode("bücket-名前-\u{202E}"),
        "b%C3%BCcket-%E5%90%8D%E5%89%8D-%E2%80%AE"
    );
    assert_eq!(percent_encode("\u{200F}"), "%E2%80%8F");
    assert_eq!(percent_encode("Max Mustermann"), "Max%20Mustermann");
    // C1 controls (U+0080..=U+009F) are two UTF-8 bytes each.
    assert_eq!(percent_encode("\u{85}"), "%C2%85");
}

#[test]
fn agrees_with_an_independent_encoder_and_round_trips() {
    for s in hostile() {
        let enc = percent_encode(&s);
        assert_eq!(
            enc,
            reference(&s),
            "differs from percent-encoding for {s:?}"
        );
        assert!(
            enc.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'"'),
            "not printable ASCII without quotes: {enc:?}"
        );
        assert!(
            reqwest::header::HeaderValue::from_str(&enc).is_ok(),
            "not a valid header value: {enc:?}"
        );
        assert_eq!(decode(&enc), s, "round trip");
    }
}

fn event() -> Event {
    EventBuilderV10::new()
        .id("e-1 ü")
        .source("http://127.0.0.1:1/projects/p/trackers/system")
        .ty("com.otc.cts.trace.obs.putobject")
        .subject("bücket-名前-\u{202E}")
        .time(DateTime::<Utc>::from_timestamp_millis(1_796_613_664_495).expect("time"))
        .data(
            "application/json",
            json!({"resource_name": "bücket-名前-\u{202E}"}),
        )
        .extension("user", "jürgen Grün")
        .extension("count", 3_i64)
        .build()
        .expect("event")
}

#[test]
fn binary_mode_encodes_every_header_and_writes_time_with_z() {
    let m = binary(&event()).expect("binary");
    let h = |name: &str| {
        m.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(m.headers[0], ("ce-specversion".into(), "1.0".into()));
    assert_eq!(h("ce-id"), Some("e-1%20%C3%BC"));
    assert_eq!(
        h("ce-source"),
        Some("http://127.0.0.1:1/projects/p/trackers/system")
    );
    assert_eq!(h("ce-type"), Some("com.otc.cts.trace.obs.putobject"));
    assert_eq!(
        h("ce-subject"),
        Some("b%C3%BCcket-%E5%90%8D%E5%89%8D-%E2%80%AE")
    );
    assert_eq!(h("ce-time"), Some("2026-12-07T03:21:04.495Z"));
    assert_eq!(h("ce-user"), Some("j%C3%BCrgen%20Gr%C3%BCn"));
    assert_eq!(h("ce-count"), Some("3"));
    assert_eq!(h("ce-datacontenttype"), None, "it is the content-type");
    assert_eq!(m.content_type.as_deref(), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&m.body).expect("json body");
    assert_eq!(body["resource_name"], "bücket-名前-\u{202E}");
    for (name, value) in &m.headers {
        assert!(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok(),
            "{name}"
        );
        assert!(value.is_ascii(), "{name}: {value}");
    }
}

#[test]
fn time_is_utc_with_z_whole_seconds_and_fractions() {
    // 1796613664495 ms and `2026-12-07T03:21:04.495Z`: `record_time` and `Ce-Time`
    // of one request the original Go exporter sent, captured on loopback.
    let t = |ms| format_time(&DateTime::<Utc>::from_timestamp_millis(ms).expect("time"));
    assert_eq!(t(1_796_613_664_000), "2026-12-07T03:21:04Z");
    assert_eq!(t(1_796_613_664_495), "2026-12-07T03:21:04.495Z");
    assert_eq!(t(0), "1970-01-01T00:00:00Z");
}

#[test]
fn structured_mode_keeps_text_as_is_and_writes_time_with_z() {
    let body = structured(&event()).expect("structured");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["time"], "2026-12-07T03:21:04.495Z");
    assert_eq!(v["subject"], "bücket-名前-\u{202E}");
    assert_eq!(v["user"], "jürgen Grün");
    assert_eq!(v["specversion"], "1.0");
    assert_eq!(v["data"]["resource_name"], "bücket-名前-\u{202E}");
    // And the SDK reads it back into the same event.
    let back: Event = serde_json::from_slice(&body).expect("an event");
    assert_eq!(back, event());
}

#[test]
fn an_event_without_time_or_data_has_neither() {
    let ev = EventBuilderV10::new()
        .id("x")
        .source("/s")
        .ty("t")
        .build()
        .expect("event");
    let m = binary(&ev).expect("binary");
    assert!(m.headers.iter().all(|(n, _)| n != "ce-time"));
    assert!(m.body.is_empty());
    assert_eq!(m.content_type, None);
    let v: serde_json::Value =
        serde_json::from_slice(&structured(&ev).expect("structured")).expect("json");
    assert!(v.get("time").is_none());
}

#[test]
fn the_rust_sdk_reads_the_binary_form_back_empty_extensions_included() {
    // The decoder neo4j-sink uses. ASCII values only: that SDK does not
    // percent-decode (which the Go receiver's e2e test covers).
    let ev = EventBuilderV10::new()
        .id("a1")
        .source("http://127.0.0.1:1/projects/p/trackers/system")
        .ty("com.otc.cts.trace.evs.extendvolume")
        .subject("scratch-stage-39")
        .time(DateTime::<Utc>::from_timestamp_millis(1_796_613_664_495).expect("time"))
        .data("application/json", json!({"trace_id": "a1"}))
        .extension("status", "")
        .extension("tenant", "p")
        .build()
        .expect("event");
    let m = binary(&ev).expect("binary");
    let mut headers = reqwest::header::HeaderMap::new();
    for (n, v) in &m.headers {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(n.as_bytes()).expect("name"),
            reqwest::header::HeaderValue::from_str(v).expect("value"),
        );
    }
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    let mut back = cloudevents::binding::http::to_event(&headers, m.body).expect("an event");
    // The SDK keeps a binary-mode body as bytes; the sink parses them.
    let (_, _, data) = back.take_data();
    let Some(Data::Binary(bytes)) = data else {
        panic!("body as bytes: {data:?}")
    };
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body, json!({"trace_id": "a1"}));
    let mut want = ev.clone();
    let _ = want.take_data();
    assert_eq!(back, want);
    assert_eq!(
        back.extension("status").map(|v| v.to_string()).as_deref(),
        Some("")
    );
}

fn hostile_events() -> Vec<Event> {
    let time = DateTime::<Utc>::from_timestamp_millis(1_796_613_664_495).expect("time");
    hostile()
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let mut b = EventBuilderV10::new()
                .id(format!("id-{i}-{s}"))
                .source("http://127.0.0.1:1/projects/p/trackers/system")
                .ty("com.otc.cts.trace.evs.extendvolume")
                .time(time)
                .extension("user", s.as_str());
            if !s.is_empty() {
                b = b.subject(s.as_str());
            }
            b = match i % 3 {
                0 => b.data("application/json", json!({"trace_id": i, "text": s})),
                1 => b.data("text/plain", s),
                _ => b.data("application/octet-stream", s.into_bytes()),
            };
            b.build().expect("event")
        })
        .collect()
}

#[test]
fn a_batch_is_a_json_array_of_structured_events_the_rust_sdk_reads_back() {
    let events = hostile_events();
    let body = batch(&events).expect("batch");
    let array: Vec<serde_json::Value> = serde_json::from_slice(&body).expect("a JSON array");
    assert_eq!(array.len(), events.len());
    for (v, ev) in array.iter().zip(&events) {
        // JSON event format 1.0.2, 3.1: binary data as data_base64, anything else as data.
        let binary = matches!(ev.data(), Some(Data::Binary(_)));
        assert_eq!(v.get("data_base64").is_some(), binary, "{v}");
        assert_eq!(v.get("data").is_some(), !binary, "{v}");
        if let Some(Data::Json(want)) = ev.data() {
            assert_eq!(&v["data"], want, "JSON data stays JSON, not a string");
        }
        assert_eq!(v["time"], "2026-12-07T03:21:04.495Z");
        // Each element is what `structured` writes for the event alone.
        let alone: serde_json::Value =
            serde_json::from_slice(&structured(ev).expect("structured")).expect("json");
        assert_eq!(v, &alone);
        let back: Event = serde_json::from_value(v.clone()).expect("the SDK reads the element");
        assert_eq!(&back, ev);
    }
}

#[test]
fn batches_empty_single_and_huge() {
    assert_eq!(batch(&[]).expect("empty"), b"[]");
    let one = event();
    let single: Vec<serde_json::Value> =
        serde_json::from_slice(&batch(std::slice::from_ref(&one)).expect("one")).expect("json");
    assert_eq!(single.len(), 1);
    let huge = EventBuilderV10::new()
        .id("huge")
        .source("urn:x")
        .ty("t")
        .data("application/json", json!({"text": "ü".repeat(2_000_000)}))
        .build()
        .expect("event");
    let body = batch(&[one, huge]).expect("huge");
    assert!(body.len() > 4_000_000);
    let back: Vec<Event> = serde_json::from_slice(&body).expect("the SDK reads a 4 MB batch");
    assert_eq!(back[1].id(), "huge");
}

/// `structured` writes the event itself instead of copying it into a
/// `serde_json::Value` first; its bytes must be exactly what the SDK's own
/// serializer writes, with `time` in our format: the same members, in the
/// same order, the same escaping, for hostile text, every data kind, with
/// and without the optional attributes.
#[test]
fn structured_writes_the_sdks_bytes_with_our_time() {
    let sdk = |ev: &Event| {
        let mut value = serde_json::to_value(ev).expect("the SDK serializes");
        if let Some(t) = ev.time() {
            value["time"] = json!(format_time(t));
        }
        serde_json::to_vec(&value).expect("json")
    };
    let mut events = hostile_events();
    events.push(event());
    events.push(
        EventBuilderV10::new()
            .id("bare")
            .source("urn:x")
            .ty("t")
            .build()
            .expect("event"),
    );
    events.push(
        EventBuilderV10::new()
            .id("all")
            .source("urn:x")
            .ty("t")
            .subject("s")
            .time(DateTime::<Utc>::from_timestamp(1_796_613_664, 0).expect("time"))
            .data_with_schema(
                "application/json",
                "https://example.com/trace.json",
                json!({"a": [1, 2.5, null, {"b": "ü"}], "c": true}),
            )
            .extension("flag", false)
            .extension("n", -7_i64)
            .extension("empty", "")
            .build()
            .expect("event"),
    );
    for ev in &events {
        assert_eq!(
            String::from_utf8_lossy(&structured(ev).expect("structured")),
            String::from_utf8_lossy(&sdk(ev)),
            "event {}",
            ev.id()
        );
    }
    let mut want = b"[".to_vec();
    for (i, ev) in events.iter().enumerate() {
        if i > 0 {
            want.push(b',');
        }
        want.extend(sdk(ev));
    }
    want.push(b']');
    assert_eq!(batch(&events).expect("batch"), want);
}
