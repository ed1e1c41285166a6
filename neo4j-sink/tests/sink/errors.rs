//! Every 4xx of the contract against the real Neo4j: the bad event is not
//! written, and a good event sent at the same time is.

use crate::common::*;
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    status: u16,
    error: &'static str,
    /// Trace id the bad request carries, which must not reach the graph.
    trace_id: String,
    request: reqwest::RequestBuilder,
}

fn cases(sink: &TestSink, run: &str) -> Vec<Case> {
    let tid = |name: &str| format!("{run}-bad-{name}");
    let ev = |name: &str| event(&tid(name), run);
    let structured = |body: &Value| {
        sink.http
            .post(&sink.base)
            .header("content-type", "application/cloudevents+json")
            .body(serde_json::to_vec(body).expect("json"))
    };
    let mut v03 = ev("specversion");
    v03["specversion"] = json!("0.3");
    let mut unknown_type = ev("type");
    unknown_type["type"] = json!("com.example.something.else");
    let mut not_trace = ev("data");
    not_trace["data"]["time"] = json!("yesterday");
    let mut no_id = ev("noid");
    no_id["data"]
        .as_object_mut()
        .expect("object")
        .remove("trace_id");
    let mut huge = ev("huge");
    huge["data"]["request"] = json!("x".repeat(1_100_000));
    vec![
        Case {
            name: "plain JSON, not a CloudEvent",
            status: 400,
            error: "not_a_cloudevent",
            trace_id: tid("plain"),
            request: sink.http.post(&sink.base).json(&trace(&tid("plain"), run)),
        },
        Case {
            name: "spec version 0.3",
            status: 400,
            error: "unsupported_specversion",
            trace_id: tid("specversion"),
            request: sink.binary(&v03),
        },
        Case {
            name: "missing source",
            status: 400,
            error: "missing_attribute",
            trace_id: tid("source"),
            request: {
                let mut e = ev("source");
                e.as_object_mut().expect("object").remove("source");
                structured(&e)
            },
        },
        Case {
            name: "unknown type",
            status: 400,
            error: "unknown_type",
            trace_id: tid("type"),
            request: structured(&unknown_type),
        },
        Case {
            name: "data that is not a trace",
            status: 400,
            error: "invalid_data",
            trace_id: tid("data"),
            request: sink.binary(&not_trace),
        },
        Case {
            name: "trace without id",
            status: 400,
            error: "missing_trace_id",
            trace_id: tid("noid"),
            request: structured(&no_id),
        },
        Case {
            name: "Latin-1 bytes in ce-subject",
            status: 400,
            error: "invalid_attribute",
            trace_id: tid("percent"),
            // A literal `100%` is taken as it is (a sender that did not encode); bytes that are no
            // UTF-8 at all (Latin-1) cannot be read as text either way.
            request: sink.binary(&ev("percent")).header(
                "ce-subject",
                reqwest::header::HeaderValue::from_bytes(b"caf\xe9")
                    .expect("obs-text is a header value"),
            ),
        },
        Case {
            name: "body over 1 MiB",
            status: 413,
            error: "body_too_large",
            trace_id: tid("huge"),
            request: structured(&huge),
        },
        Case {
            name: "binary mode with text/plain data",
            status: 415,
            error: "unsupported_content_type",
            trace_id: tid("text"),
            request: sink.binary_as(&ev("text"), "text/plain"),
        },
        Case {
            name: "XML event format",
            status: 415,
            error: "unsupported_content_type",
            trace_id: tid("xml"),
            request: sink
                .http
                .post(&sink.base)
                .header("content-type", "application/cloudevents+xml")
                .body(format!("<event><id>{}</id></event>", tid("xml"))),
        },
        Case {
            name: "PUT instead of POST",
            status: 405,
            error: "method_not_allowed",
            trace_id: tid("put"),
            request: sink
                .http
                .put(&sink.base)
                .header("content-type", "application/cloudevents+json")
                .body(serde_json::to_vec(&ev("put")).expect("json")),
        },
    ]
}

#[tokio::test]
async fn bad_requests_get_their_4xx_and_good_ones_sent_alongside_are_stored() {
    let Some(env) = env("bad_requests_get_their_4xx_and_good_ones_sent_alongside_are_stored")
    else {
        return;
    };
    // Narrowed to our exporter's types, so `unknown_type` can be shown.
    let sink = TestSink::ready(
        &env,
        &[
            "--batch-max-delay-ms=50",
            "--accepted-type-prefixes=com.otc.cts.trace.",
        ],
    )
    .await;
    let graph = graph(&env);
    let run = run_id();
    for (i, case) in cases(&sink, &run).into_iter().enumerate() {
        let good_id = format!("{run}-good-{i}");
        let good = sink.binary(&event(&good_id, &run));
        let (bad, good) = tokio::join!(case.request.send(), good.send());
        let bad = bad.expect("bad request answered");
        let status = bad.status().as_u16();
        let body: Value = bad.json().await.unwrap_or(Value::Null);
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(body["error"], case.error, "{}: {body}", case.name);
        assert!(
            body["detail"].as_str().is_some_and(|d| d.len() > 10),
            "{}: {body}",
            case.name
        );
        assert_ne!(status, 404, "never 404 for a bad event");
        assert_ne!(status, 409, "never 409 for a bad event");
        assert_eq!(
            good.expect("good request answered").status(),
            202,
            "{}",
            case.name
        );
        assert_eq!(
            actions(&graph, &good_id).await,
            1,
            "{}: the good event is stored",
            case.name
        );
        assert_eq!(
            actions(&graph, &case.trace_id).await,
            0,
            "{}: the bad event is not stored",
            case.name
        );
    }
    let m = sink.metrics().await;
    assert!(
        sample(&m, "neo4j_sink_events_total{outcome=\"invalid\"}") >= 7.0,
        "{m}"
    );
    sink.stop().await;
}

#[tokio::test]
async fn a_trace_the_graph_refuses_gets_400_and_its_batch_mates_are_stored() {
    let Some(env) = env("a_trace_the_graph_refuses_gets_400_and_its_batch_mates_are_stored") else {
        return;
    };
    let sink = TestSink::ready(&env, &["--batch-max-delay-ms=100"]).await;
    let graph = graph(&env);
    let run = run_id();
    // No `time` and no `record_time`: trace-graph rejects the row (an action needs a time).
    let timeless_id = format!("{run}-timeless");
    let mut timeless = event(&timeless_id, &run);
    let data = timeless["data"].as_object_mut().expect("object");
    data.remove("time");
    data.remove("record_time");
    let good_id = format!("{run}-mate");
    let (bad, good) = tokio::join!(
        sink.binary(&timeless).send(),
        sink.binary(&event(&good_id, &run)).send()
    );
    let bad = bad.expect("answered");
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error"], "rejected_by_store", "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.contains("time")),
        "{body}"
    );
    assert_eq!(good.expect("answered").status(), 202);
    assert_eq!(actions(&graph, &good_id).await, 1);
    assert_eq!(actions(&graph, &timeless_id).await, 0);
    sink.stop().await;
}

#[tokio::test]
async fn a_batch_with_bad_events_stores_the_good_ones_then_answers_400() {
    let Some(env) = env("a_batch_with_bad_events_stores_the_good_ones_then_answers_400") else {
        return;
    };
    let sink = TestSink::ready(&env, &["--accepted-type-prefixes=com.otc.cts.trace."]).await;
    let graph = graph(&env);
    let run = run_id();
    let good: Vec<String> = (0..3).map(|i| format!("{run}-g{i}")).collect();
    let bad_id = format!("{run}-badtype");
    let mut bad = event(&bad_id, &run);
    bad["type"] = json!("org.example.unrelated");
    let batch = json!([
        event(&good[0], &run),
        bad,
        event(&good[1], &run),
        42,
        event(&good[2], &run)
    ]);
    let r = sink
        .post_json("application/cloudevents-batch+json", &batch)
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"], "invalid_events", "{body}");
    let refused: Vec<(u64, &str)> = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().expect("index"),
                e["error"].as_str().expect("error"),
            )
        })
        .collect();
    assert_eq!(
        refused,
        vec![(1, "unknown_type"), (3, "not_a_cloudevent")],
        "{body}"
    );
    assert_eq!(body["events"][0]["id"], json!(bad_id));
    for id in &good {
        assert_eq!(actions(&graph, id).await, 1, "{id} stored before the 400");
    }
    assert_eq!(actions(&graph, &bad_id).await, 0);
    sink.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_429_and_stores_only_what_it_accepted() {
    let Some(env) = env("a_full_queue_answers_429_and_stores_only_what_it_accepted") else {
        return;
    };
    // One queue place and a long batch delay: the first event holds the place
    // while the second arrives.
    let sink = TestSink::ready(&env, &["--queue-capacity=1", "--batch-max-delay-ms=700"]).await;
    let graph = graph(&env);
    let run = run_id();
    let (first_id, second_id) = (format!("{run}-q1"), format!("{run}-q2"));
    let first = sink.binary(&event(&first_id, &run)).send();
    let second = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        sink.binary(&event(&second_id, &run)).send().await
    };
    let (first, second) = tokio::join!(first, second);
    let second = second.expect("answered");
    assert_eq!(second.status(), 429);
    assert_eq!(second.headers()["retry-after"], "1");
    let body: Value = second.json().await.expect("json");
    assert_eq!(body["error"], "queue_full", "{body}");
    assert_eq!(first.expect("answered").status(), 202);
    assert_eq!(actions(&graph, &first_id).await, 1);
    assert_eq!(actions(&graph, &second_id).await, 0);
    // Retried after the place is free, the refused event is stored.
    assert_eq!(
        sink.binary(&event(&second_id, &run))
            .send()
            .await
            .expect("answered")
            .status(),
        202
    );
    assert_eq!(actions(&graph, &second_id).await, 1);
    sink.stop().await;
}
