//! The hostile-input table, part one: everything that must be refused
//! (malformed bodies, content types, methods, CloudEvents attributes, data,
//! sizes, nesting, encodings, numbers) and the batch contract. Each case
//! carries its expected status and `error` code from docs/sink.md.

use crate::common::event;
use crate::model::{Case, Expect, Req};
use reqwest::Method;
use serde_json::{json, Value};

pub const CE_JSON: &str = "application/cloudevents+json";
pub const CE_BATCH: &str = "application/cloudevents-batch+json";

/// A trace id of this run.
pub fn tid(run: &str, slug: &str) -> String {
    format!("{run}-{slug}")
}

/// The exporter-shaped event for `tid(run, slug)`.
pub fn ev(run: &str, slug: &str) -> Value {
    event(&tid(run, slug), run)
}

pub fn structured(e: &Value) -> Req {
    Req::post(Some(CE_JSON), serde_json::to_vec(e).expect("json"))
}

pub fn batch(items: &[Value]) -> Req {
    Req::post(Some(CE_BATCH), serde_json::to_vec(items).expect("json"))
}

/// Binary mode: every string attribute as a `ce-` header, the data as body.
pub fn binary(e: &Value) -> Req {
    let ct = e["datacontenttype"].as_str().unwrap_or("application/json");
    let mut req = Req::post(Some(ct), serde_json::to_vec(&e["data"]).expect("json"));
    for (k, v) in e.as_object().expect("object") {
        if k == "data" || k == "datacontenttype" {
            continue;
        }
        if let Some(s) = v.as_str() {
            req = req.header(&format!("ce-{k}"), s);
        }
    }
    req
}

pub fn without(mut e: Value, key: &str) -> Value {
    e.as_object_mut().expect("object").remove(key);
    e
}

pub fn with(mut e: Value, key: &str, value: Value) -> Value {
    e[key] = value;
    e
}

pub fn with_data(mut e: Value, key: &str, value: Value) -> Value {
    e["data"][key] = value;
    e
}

fn text(e: &Value) -> String {
    serde_json::to_string(e).expect("json")
}

/// `depth` nested arrays: `[[[...]]]`.
pub fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

const DEEP: usize = 100_000;
const TEN_MB: usize = 10 * 1024 * 1024;

pub fn refused(run: &str) -> Vec<Case> {
    let r = run;
    let mut v = Vec::new();
    let mut add = |cat: &'static str, slug: &str, req: Req, status: u16, error: &'static str| {
        v.push(Case::refused(cat, slug, req, status, error, &tid(r, slug)));
    };

    // Malformed JSON.
    let cat = "malformed JSON";
    let good = text(&ev(r, "truncated"));
    add(
        cat,
        "truncated",
        Req::post(Some(CE_JSON), good[..good.len() / 2].into()),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "not-json",
        Req::post(
            Some(CE_JSON),
            format!("id={} hello", tid(r, "not-json")).into(),
        ),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "empty-body",
        Req::post(Some(CE_JSON), Vec::new()),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "trailing-garbage",
        Req::post(
            Some(CE_JSON),
            format!("{} }}garbage", text(&ev(r, "trailing-garbage"))).into(),
        ),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "single-quotes",
        Req::post(
            Some(CE_JSON),
            text(&ev(r, "single-quotes")).replace('"', "'").into(),
        ),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "structured-array",
        Req::post(
            Some(CE_JSON),
            text(&json!([ev(r, "structured-array")])).into(),
        ),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "structured-string",
        Req::post(
            Some(CE_JSON),
            text(&json!(tid(r, "structured-string"))).into(),
        ),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "batch-object",
        Req::post(Some(CE_BATCH), text(&ev(r, "batch-object")).into()),
        400,
        "not_a_cloudevent",
    );
    let b = text(&json!([ev(r, "batch-truncated")]));
    add(
        cat,
        "batch-truncated",
        Req::post(Some(CE_BATCH), b[..b.len() - 3].into()),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "binary-data-truncated",
        Req::post(Some("application/json"), b"{\"trace_id\": \"x".to_vec())
            .header("ce-specversion", "1.0")
            .header("ce-id", tid(r, "binary-data-truncated"))
            .header("ce-source", "s")
            .header("ce-type", "com.otc.cts.trace.x")
            .header("ce-project", "p")
            .header("ce-region", "r"),
        400,
        "invalid_data",
    );
    add(
        cat,
        "utf8-bom",
        Req::post(
            Some(CE_JSON),
            [
                b"\xef\xbb\xbf".as_slice(),
                text(&ev(r, "utf8-bom")).as_bytes(),
            ]
            .concat(),
        ),
        400,
        "not_a_cloudevent",
    );

    // Content types.
    let cat = "content type";
    add(
        cat,
        "no-content-type",
        Req::post(None, text(&ev(r, "no-content-type")).into()),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "text-plain",
        Req::post(Some("text/plain"), text(&ev(r, "text-plain")).into()),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "plain-json",
        Req::post(Some("application/json"), text(&ev(r, "plain-json")).into()),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "content-type-garbage",
        Req::post(Some(";;;"), text(&ev(r, "content-type-garbage")).into()),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "multipart",
        Req::post(
            Some("multipart/form-data; boundary=x"),
            text(&ev(r, "multipart")).into(),
        ),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "cloudevents-xml",
        Req::post(
            Some("application/cloudevents+xml"),
            format!("<event><id>{}</id></event>", tid(r, "cloudevents-xml")).into(),
        ),
        415,
        "unsupported_content_type",
    );
    add(
        cat,
        "cloudevents-protobuf",
        Req::post(
            Some("application/cloudevents+protobuf"),
            text(&ev(r, "cloudevents-protobuf")).into(),
        ),
        415,
        "unsupported_content_type",
    );
    add(
        cat,
        "binary-text-plain",
        binary(&ev(r, "binary-text-plain")).header("content-type", "text/plain"),
        415,
        "unsupported_content_type",
    );
    add(
        cat,
        "binary-xml",
        binary(&ev(r, "binary-xml")).header("content-type", "application/xml"),
        415,
        "unsupported_content_type",
    );
    add(
        cat,
        "structured-datacontenttype-text",
        structured(&with(
            ev(r, "structured-datacontenttype-text"),
            "datacontenttype",
            json!("text/plain"),
        )),
        400,
        "invalid_data",
    );
    let e = ev(r, "structured-text-data");
    let data = text(&e["data"]);
    add(
        cat,
        "structured-text-data",
        structured(&with(
            with(e, "datacontenttype", json!("text/plain")),
            "data",
            json!(data),
        )),
        400,
        "invalid_data",
    );

    // Methods and paths (a path other than / is a misconfigured sender, not a bad event).
    let cat = "method / path";
    add(
        cat,
        "get-root",
        structured(&ev(r, "get-root")).method(Method::GET),
        405,
        "method_not_allowed",
    );
    add(
        cat,
        "put-root",
        structured(&ev(r, "put-root")).method(Method::PUT),
        405,
        "method_not_allowed",
    );
    add(
        cat,
        "delete-root",
        structured(&ev(r, "delete-root")).method(Method::DELETE),
        405,
        "method_not_allowed",
    );
    add(
        cat,
        "post-healthz",
        structured(&ev(r, "post-healthz")).path("/healthz"),
        405,
        "method_not_allowed",
    );
    add(
        cat,
        "post-unknown-path",
        structured(&ev(r, "post-unknown-path")).path("/events"),
        404,
        "not_found",
    );

    // CloudEvents attributes, structured mode.
    let cat = "attributes";
    for attr in ["specversion", "id", "source", "type"] {
        let slug = format!("missing-{attr}");
        add(
            cat,
            &slug,
            structured(&without(ev(r, &slug), attr)),
            400,
            "missing_attribute",
        );
    }
    add(
        cat,
        "empty-id",
        structured(&with(ev(r, "empty-id"), "id", json!(""))),
        400,
        "missing_attribute",
    );
    add(
        cat,
        "blank-source",
        structured(&with(ev(r, "blank-source"), "source", json!("   "))),
        400,
        "missing_attribute",
    );
    add(
        cat,
        "null-type",
        structured(&with(ev(r, "null-type"), "type", Value::Null)),
        400,
        "missing_attribute",
    );
    add(
        cat,
        "numeric-id",
        structured(&with(ev(r, "numeric-id"), "id", json!(12345))),
        400,
        "invalid_attribute",
    );
    add(
        cat,
        "object-source",
        structured(&with(ev(r, "object-source"), "source", json!({"a": 1}))),
        400,
        "invalid_attribute",
    );
    add(
        cat,
        "specversion-0.3",
        structured(&with(ev(r, "specversion-0.3"), "specversion", json!("0.3"))),
        400,
        "unsupported_specversion",
    );
    add(
        cat,
        "specversion-2.0",
        structured(&with(ev(r, "specversion-2.0"), "specversion", json!("2.0"))),
        400,
        "unsupported_specversion",
    );
    add(
        cat,
        "specversion-number",
        structured(&with(
            ev(r, "specversion-number"),
            "specversion",
            json!(1.0),
        )),
        400,
        "unsupported_specversion",
    );
    add(
        cat,
        "time-yesterday",
        structured(&with(ev(r, "time-yesterday"), "time", json!("yesterday"))),
        400,
        "invalid_attribute",
    );
    add(
        cat,
        "time-year-10000",
        structured(&with(
            ev(r, "time-year-10000"),
            "time",
            json!("10000-01-01T00:00:00Z"),
        )),
        400,
        "invalid_attribute",
    );
    // An unknown type, a missing project or region: stored (see `interop`).
    // Binary mode.
    add(
        cat,
        "binary-specversion-0.3",
        binary(&ev(r, "binary-specversion-0.3")).header("ce-specversion", "0.3"),
        400,
        "unsupported_specversion",
    );
    for attr in ["id", "source", "type"] {
        let slug = format!("binary-missing-{attr}");
        add(
            cat,
            &slug,
            binary(&ev(r, &slug)).without(&format!("ce-{attr}")),
            400,
            "missing_attribute",
        );
    }
    add(
        cat,
        "binary-time-invalid",
        binary(&ev(r, "binary-time-invalid")).header("ce-time", "not-a-time"),
        400,
        "invalid_attribute",
    );

    // Event data.
    let cat = "data";
    add(
        cat,
        "no-data",
        structured(&without(ev(r, "no-data"), "data")),
        400,
        "missing_data",
    );
    add(
        cat,
        "data-array",
        structured(&with(
            ev(r, "data-array"),
            "data",
            json!([tid(r, "data-array")]),
        )),
        400,
        "invalid_data",
    );
    add(
        cat,
        "data-base64-not-json",
        structured(&with(
            without(ev(r, "data-base64-not-json"), "data"),
            "data_base64",
            json!("aGVsbG8gd29ybGQ="),
        )),
        400,
        "invalid_data",
    );
    add(
        cat,
        "data-base64-invalid",
        structured(&with(
            without(ev(r, "data-base64-invalid"), "data"),
            "data_base64",
            json!("!!!not base64!!!"),
        )),
        400,
        "invalid_attribute",
    );
    add(
        cat,
        "no-trace-id",
        structured(&without_data(ev(r, "no-trace-id"), "trace_id")),
        400,
        "missing_trace_id",
    );
    add(
        cat,
        "blank-trace-id",
        structured(&with_data(ev(r, "blank-trace-id"), "trace_id", json!("  "))),
        400,
        "missing_trace_id",
    );
    add(
        cat,
        "trace-time-yesterday",
        structured(&with_data(
            ev(r, "trace-time-yesterday"),
            "time",
            json!("yesterday"),
        )),
        400,
        "invalid_data",
    );
    add(
        cat,
        "no-time",
        structured(&without_data(
            without_data(ev(r, "no-time"), "time"),
            "record_time",
        )),
        400,
        "rejected_by_store",
    );

    // Numbers out of range.
    let cat = "numbers";
    add(
        cat,
        "time-u64-max",
        structured(&with_data(ev(r, "time-u64-max"), "time", json!(u64::MAX))),
        400,
        "invalid_data",
    );
    add(
        cat,
        "time-1e300",
        structured(&with_data(ev(r, "time-1e300"), "time", json!(1e300))),
        400,
        "invalid_data",
    );
    add(
        cat,
        "time-fraction",
        structured(&with_data(ev(r, "time-fraction"), "time", json!(1.5))),
        400,
        "invalid_data",
    );
    add(
        cat,
        "record-time-string",
        structured(&with_data(
            ev(r, "record-time-string"),
            "record_time",
            json!("soon"),
        )),
        400,
        "invalid_data",
    );
    let e = text(&ev(r, "code-1e400")).replace("\"code\":\"400\"", "\"code\":1e400");
    add(
        cat,
        "code-1e400",
        Req::post(Some(CE_JSON), e.into()),
        400,
        "not_a_cloudevent",
    );

    // Sizes: the limit is MAX_BODY_BYTES (1 MiB by default).
    let cat = "size";
    // Three times each: whether the sender sees the answer or a reset can
    // depend on timing, and a reset would make Knative retry forever.
    for round in 0..3 {
        let slug = format!("10mb-structured-{round}");
        let big = with_data(ev(r, &slug), "request", json!("x".repeat(TEN_MB)));
        add(cat, &slug, structured(&big), 413, "body_too_large");
        let slug = format!("10mb-chunked-{round}");
        let big = with_data(ev(r, &slug), "request", json!("x".repeat(TEN_MB)));
        add(
            cat,
            &slug,
            structured(&big).chunked(),
            413,
            "body_too_large",
        );
        let slug = format!("10mb-binary-{round}");
        let big = with_data(ev(r, &slug), "request", json!("x".repeat(TEN_MB)));
        add(cat, &slug, binary(&big), 413, "body_too_large");
    }
    let big = with_data(
        ev(r, "just-over-1mib"),
        "request",
        json!("x".repeat(1024 * 1024)),
    );
    add(
        cat,
        "just-over-1mib",
        structured(&big),
        413,
        "body_too_large",
    );

    // Nesting 100,000 levels deep.
    let cat = "nesting";
    let e = text(&ev(r, "deep-body"));
    add(
        cat,
        "deep-body",
        Req::post(Some(CE_JSON), format!("{}{}", nested(DEEP), e).into()),
        400,
        "not_a_cloudevent",
    );
    let e = text(&with(ev(r, "deep-data"), "data", json!("PLACEHOLDER")));
    add(
        cat,
        "deep-data",
        Req::post(
            Some(CE_JSON),
            e.replace("\"PLACEHOLDER\"", &nested(DEEP)).into(),
        ),
        400,
        "not_a_cloudevent",
    );
    let e = text(&with_data(
        ev(r, "deep-trace-field"),
        "request",
        json!("PLACEHOLDER"),
    ));
    add(
        cat,
        "deep-trace-field",
        Req::post(
            Some(CE_JSON),
            e.replace("\"PLACEHOLDER\"", &nested(DEEP)).into(),
        ),
        400,
        "not_a_cloudevent",
    );
    let e = text(&with_data(
        ev(r, "deep-binary-data"),
        "request",
        json!("PLACEHOLDER"),
    ));
    let e: Value = serde_json::from_str(&e).expect("json");
    let mut req = binary(&e);
    let body = text(&e["data"]).replace("\"PLACEHOLDER\"", &nested(DEEP));
    req.body = crate::model::Body::Sized(body.into());
    add(cat, "deep-binary-data", req, 400, "invalid_data");
    let e = text(&json!([ev(r, "deep-batch"), "PLACEHOLDER"]));
    add(
        cat,
        "deep-batch",
        Req::post(
            Some(CE_BATCH),
            e.replace("\"PLACEHOLDER\"", &nested(DEEP)).into(),
        ),
        400,
        "not_a_cloudevent",
    );
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(DEEP), "}".repeat(DEEP));
    let e = text(&with_data(
        ev(r, "deep-objects"),
        "request",
        json!("PLACEHOLDER"),
    ));
    add(
        cat,
        "deep-objects",
        Req::post(
            Some(CE_JSON),
            e.replace("\"PLACEHOLDER\"", &deep_obj).into(),
        ),
        400,
        "not_a_cloudevent",
    );

    // Encodings.
    let cat = "encoding";
    let e = text(&with_data(
        ev(r, "invalid-utf8-structured"),
        "trace_name",
        json!("PLACEHOLDER"),
    ));
    let body = e.replace("PLACEHOLDER", "\u{1}").into_bytes();
    let body: Vec<u8> = body
        .into_iter()
        .map(|b| if b == 1 { 0xff } else { b })
        .collect();
    add(
        cat,
        "invalid-utf8-structured",
        Req::post(Some(CE_JSON), body),
        400,
        "not_a_cloudevent",
    );
    let e = ev(r, "invalid-utf8-binary");
    let mut req = binary(&e);
    let body = text(&with(e["data"].clone(), "trace_name", json!("PLACEHOLDER")))
        .replace("PLACEHOLDER", "caf\u{1}")
        .into_bytes();
    req.body = crate::model::Body::Sized(
        body.into_iter()
            .map(|b| if b == 1 { 0xfe } else { b })
            .collect(),
    );
    add(cat, "invalid-utf8-binary", req, 400, "invalid_data");
    let e = text(&with_data(
        ev(r, "raw-nul-byte"),
        "trace_name",
        json!("a\u{1}b"),
    ));
    let body: Vec<u8> = e
        .replace("\\u0001", "\u{1}")
        .into_bytes()
        .into_iter()
        .map(|b| if b == 1 { 0 } else { b })
        .collect();
    add(
        cat,
        "raw-nul-byte",
        Req::post(Some(CE_JSON), body),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "lone-surrogate",
        Req::post(
            Some(CE_JSON),
            text(&with_data(
                ev(r, "lone-surrogate"),
                "trace_name",
                json!("X"),
            ))
            .replace("\"trace_name\":\"X\"", "\"trace_name\":\"\\ud800\"")
            .into(),
        ),
        400,
        "not_a_cloudevent",
    );
    add(
        cat,
        "latin1-header",
        binary(&ev(r, "latin1-header")).header("ce-source", b"caf\xe9".as_slice()),
        400,
        "invalid_attribute",
    );
    add(
        "attributes",
        "extension-object",
        structured(&with(ev(r, "extension-object"), "service", json!({"a": 1}))),
        400,
        "invalid_attribute",
    );
    add(
        "attributes",
        "dataschema-not-uri",
        structured(&with(
            ev(r, "dataschema-not-uri"),
            "dataschema",
            json!("not a uri"),
        )),
        400,
        "invalid_attribute",
    );
    add(
        "attributes",
        "extension-fraction",
        structured(&with(ev(r, "extension-fraction"), "rating", json!(0.5))),
        400,
        "invalid_attribute",
    );
    for case in &mut v {
        case.detail_has.extend(needles(&case.name));
    }
    v
}

/// What the `detail` of a refusal must name, by case.
fn needles(name: &str) -> Vec<String> {
    let attr = name
        .strip_prefix("binary-missing-")
        .or_else(|| name.strip_prefix("missing-"));
    if let Some(attr) = attr {
        return vec![format!("`{attr}`")];
    }
    let words: &[&str] = match name {
        "latin1-header" => &["ce-source", "percent-encode"],
        "structured-datacontenttype-text" | "structured-text-data" => &["datacontenttype"],
        "time-yesterday" | "time-year-10000" => &["`time`", "RFC 3339"],
        "binary-time-invalid" => &["ce-time", "RFC 3339"],
        "data-base64-invalid" => &["`data_base64`"],
        "dataschema-not-uri" => &["`dataschema`"],
        "extension-object" => &["`service`"],
        "extension-fraction" => &["`rating`"],
        "specversion-0.3" | "binary-specversion-0.3" => &["0.3", "1.0"],
        "no-time" => &["`time`"],
        "cloudevents-xml" | "binary-text-plain" => &["application/json"],
        n if n.starts_with("10mb") || n == "just-over-1mib" => &["MAX_BODY_BYTES"],
        n if n.starts_with("deep-") => &["recursion limit"],
        _ => &[],
    };
    words.iter().map(|w| w.to_string()).collect()
}

pub fn without_data(mut e: Value, key: &str) -> Value {
    e["data"].as_object_mut().expect("data").remove(key);
    e
}

/// The batch contract: good events are stored, bad ones listed and dropped.
pub fn batches(run: &str) -> Vec<Case> {
    let r = run;
    let cat = "batch";
    let mut v = Vec::new();
    let goods = |p: &str| {
        (0..3)
            .map(|i| tid(r, &format!("{p}-good{i}")))
            .collect::<Vec<_>>()
    };

    let g = goods("mixed");
    let bad = tid(r, "mixed-bad");
    v.push(Case {
        category: cat,
        name: "one bad data among three good".into(),
        req: batch(&[
            event(&g[0], r),
            event(&g[1], r),
            with(event(&bad, r), "data", json!([1, 2])),
            event(&g[2], r),
        ]),
        expect: Expect::Partial(vec![(2, "invalid_data")]),
        stored: g.clone(),
        absent: vec![bad],
        checks: Vec::new(),
        detail_has: Vec::new(),
    });

    let g = goods("many");
    let (b1, b2, b3) = (
        tid(r, "many-bad1"),
        tid(r, "many-bad2"),
        tid(r, "many-bad3"),
    );
    v.push(Case {
        category: cat,
        name: "four kinds of bad events among good ones".into(),
        req: batch(&[
            with(event(&b1, r), "specversion", json!("0.3")),
            event(&g[0], r),
            json!(42),
            with(event(&b2, r), "source", json!("")),
            event(&g[1], r),
            without_data(without_data(event(&b3, r), "time"), "record_time"),
            event(&g[2], r),
        ]),
        expect: Expect::Partial(vec![
            (0, "unsupported_specversion"),
            (2, "not_a_cloudevent"),
            (3, "missing_attribute"),
            (5, "rejected_by_store"),
        ]),
        stored: g,
        absent: vec![b1, b2, b3],
        checks: Vec::new(),
        detail_has: Vec::new(),
    });

    let (b1, b2) = (tid(r, "allbad1"), tid(r, "allbad2"));
    v.push(Case {
        category: cat,
        name: "every event bad".into(),
        req: batch(&[
            without(event(&b1, r), "id"),
            with(event(&b2, r), "specversion", json!("0.3")),
        ]),
        expect: Expect::Partial(vec![
            (0, "missing_attribute"),
            (1, "unsupported_specversion"),
        ]),
        stored: Vec::new(),
        absent: vec![b1, b2],
        checks: Vec::new(),
        detail_has: Vec::new(),
    });

    let g = goods("allgood");
    v.push(Case::stored(
        cat,
        "three good events",
        batch(&[event(&g[0], r), event(&g[1], r), event(&g[2], r)]),
        &[&g[0], &g[1], &g[2]],
    ));

    let d = tid(r, "batch-dup");
    v.push(Case {
        category: cat,
        name: "the same event twice in one batch".into(),
        req: batch(&[event(&d, r), event(&d, r)]),
        expect: Expect::Stored(2),
        stored: vec![d],
        absent: Vec::new(),
        checks: Vec::new(),
        detail_has: Vec::new(),
    });

    v.push(Case {
        category: cat,
        name: "empty batch".into(),
        req: batch(&[]),
        expect: Expect::Stored(0),
        stored: Vec::new(),
        absent: Vec::new(),
        checks: Vec::new(),
        detail_has: Vec::new(),
    });
    v
}
