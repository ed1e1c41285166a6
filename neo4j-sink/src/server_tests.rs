//! Unit tests of the HTTP contract over a real socket, with the in-memory store.

use super::*;
use crate::config::BatchSettings;
use crate::store::StoreError;
use crate::testing::MemoryStore;
use serde_json::Value;

struct Harness {
    base: String,
    store: Arc<MemoryStore>,
    state: AppState,
    http: reqwest::Client,
}

async fn harness_with(store: MemoryStore, capacity: usize, ready: bool) -> Harness {
    harness_bytes(store, capacity, ready, 1 << 20).await
}

async fn harness_bytes(
    store: MemoryStore,
    capacity: usize,
    ready: bool,
    inflight_bytes: usize,
) -> Harness {
    let store = Arc::new(store);
    let metrics = Metrics::new().expect("metrics");
    let settings = BatchSettings {
        max_events: 50,
        max_delay: Duration::from_millis(2),
        busy_delay: Duration::ZERO,
        write_concurrency: 1,
        queue_capacity: capacity,
        write_timeout: Duration::from_secs(5),
    };
    let (batcher, _task) =
        Batcher::start(store.clone(), settings, metrics.clone()).expect("valid settings");
    let readiness = Arc::new(Readiness::default());
    if ready {
        readiness.mark_ready();
    }
    let state = AppState {
        batcher,
        readiness,
        metrics,
        verifier: None,
        rules: Arc::new(EventRules {
            accepted_type_prefixes: vec!["com.otc.cts.trace.".into()],
        }),
        limits: Limits {
            max_body_bytes: 4096,
            inflight_bytes: Arc::new(tokio::sync::Semaphore::new(inflight_bytes)),
            retry_after_unavailable: Duration::from_secs(5),
            retry_after_queue_full: Duration::from_secs(1),
        },
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Harness {
        base,
        store,
        state,
        http: reqwest::Client::new(),
    }
}

async fn harness() -> Harness {
    harness_with(MemoryStore::default(), 100, true).await
}

fn structured(id: &str) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "https://cts.example/v3/p1", "type": "com.otc.cts.trace.ecs.x",
           "project": "p1", "region": "eu-de", "datacontenttype": "application/json",
           "data": {"trace_id": id, "time": 1_700_000_000_000_i64}})
}

impl Harness {
    async fn binary(&self, id: &str, ty: &str, body: &str) -> reqwest::Response {
        self.http
            .post(&self.base)
            .header("content-type", "application/json")
            .header("ce-specversion", "1.0")
            .header("ce-id", id)
            .header("ce-source", "https://cts.example/v3/p1")
            .header("ce-type", ty)
            .header("ce-project", "p1")
            .header("ce-region", "eu-de")
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    async fn post(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.http
            .post(&self.base)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }
}

async fn body(r: reqwest::Response) -> Value {
    r.json().await.expect("json body")
}

#[tokio::test]
async fn binary_structured_and_batch_are_stored_then_202() {
    let h = harness().await;
    let r = h
        .binary(
            "b1",
            "com.otc.cts.trace.ecs.start",
            r#"{"trace_id":"b1","time":1}"#,
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = h
        .post(
            "application/cloudevents+json",
            serde_json::to_vec(&structured("s1")).expect("json"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let batch = json!([structured("x1"), structured("x2")]);
    let r = h
        .post(
            "application/cloudevents-batch+json",
            serde_json::to_vec(&batch).expect("json"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(body(r).await, json!({"stored": 2}));
    let mut ids = h.store.written_ids();
    ids.sort();
    assert_eq!(ids, vec!["b1", "s1", "x1", "x2"]);
}

#[tokio::test]
async fn bad_single_events_get_400_with_a_reason_and_nothing_is_written() {
    let h = harness().await;
    let cases = [
        (
            h.binary("u1", "com.example.other", r#"{"trace_id":"u1"}"#)
                .await,
            "unknown_type",
        ),
        (
            h.binary("n1", "com.otc.cts.trace.x", r#"{"trace_name":"no id"}"#)
                .await,
            "missing_trace_id",
        ),
        (
            h.binary("j1", "com.otc.cts.trace.x", "not json").await,
            "invalid_data",
        ),
        (
            h.post("application/json", b"{}".to_vec()).await,
            "not_a_cloudevent",
        ),
        (
            h.post("application/cloudevents+json", b"[1,2]".to_vec())
                .await,
            "not_a_cloudevent",
        ),
    ];
    for (r, code) in cases {
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{code}");
        let b = body(r).await;
        assert_eq!(b["error"], code, "{b}");
        assert!(b["detail"].as_str().is_some_and(|d| !d.is_empty()), "{b}");
    }
    assert!(h.store.written_ids().is_empty());
    let metrics = h.state.metrics.render().expect("render");
    assert!(
        metrics.contains("neo4j_sink_events_total{outcome=\"invalid\"} 5"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_batch_with_a_bad_event_stores_the_good_ones_and_names_the_bad_one() {
    let h = harness().await;
    let mut bad = structured("bad");
    bad["type"] = json!("com.example.nope");
    let batch = json!([structured("g1"), bad, structured("g2")]);
    let r = h
        .post(
            "application/cloudevents-batch+json",
            serde_json::to_vec(&batch).expect("json"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let b = body(r).await;
    assert_eq!(b["error"], "invalid_events");
    assert_eq!(
        b["events"],
        json!([{"index": 1, "id": "bad", "error": "unknown_type", "detail": b["events"][0]["detail"]}])
    );
    let mut ids = h.store.written_ids();
    ids.sort();
    assert_eq!(ids, vec!["g1", "g2"]);
}

#[tokio::test]
async fn media_type_size_and_method_errors() {
    let h = harness().await;
    let r = h
        .post("application/cloudevents+xml", b"<x/>".to_vec())
        .await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body(r).await["error"], "unsupported_content_type");
    let big = vec![b' '; 5000];
    let r = h.post("application/cloudevents+json", big).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body(r).await["error"], "body_too_large");
    // A chunked body without Content-Length is cut at the limit too.
    let chunks = futures::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1000])));
    let r = h
        .http
        .post(&h.base)
        .header("content-type", "application/cloudevents+json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = h.http.get(&h.base).send().await.expect("request");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    let r = h
        .http
        .delete(format!("{}/healthz", h.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(h.store.written_ids().is_empty());
}

#[tokio::test]
async fn not_ready_means_503_with_retry_after() {
    let h = harness_with(MemoryStore::default(), 100, false).await;
    let r = h
        .binary("r1", "com.otc.cts.trace.x", r#"{"trace_id":"r1"}"#)
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "5");
    assert_eq!(body(r).await["error"], "not_ready");
    let r = h
        .http
        .get(format!("{}/readyz", h.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body(r).await["ready"], false);
    let r = h
        .http
        .get(format!("{}/healthz", h.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(h.store.written_ids().is_empty());
}

#[tokio::test]
async fn a_full_queue_means_429_with_retry_after() {
    let h = harness_with(MemoryStore::closed(), 1, true).await;
    let first = {
        let h2 = (h.http.clone(), h.base.clone());
        tokio::spawn(async move {
            h2.0.post(&h2.1)
                .header("content-type", "application/cloudevents+json")
                .body(serde_json::to_vec(&structured("q1")).expect("json"))
                .send()
                .await
                .expect("request")
                .status()
        })
    };
    while h.state.batcher.depth() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = h
        .post(
            "application/cloudevents+json",
            serde_json::to_vec(&structured("q2")).expect("json"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    h.store.open();
    assert_eq!(first.await.expect("joined"), StatusCode::ACCEPTED);
    assert_eq!(h.store.written_ids(), vec!["q1"]);
}

#[tokio::test]
async fn store_failures_map_to_503_and_500() {
    let h = harness().await;
    *h.store.fail.lock().expect("lock") = Some(StoreError::Transient("deadlock".into()));
    let r = h
        .binary("f1", "com.otc.cts.trace.x", r#"{"trace_id":"f1"}"#)
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(body(r).await["error"], "neo4j_unavailable");
    *h.store.fail.lock().expect("lock") = Some(StoreError::Permanent("no such database".into()));
    let r = h
        .binary("f2", "com.otc.cts.trace.x", r#"{"trace_id":"f2"}"#)
        .await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    *h.store.fail.lock().expect("lock") = None;
    h.store.reject.lock().expect("lock").insert("f3".into());
    let r = h
        .binary("f3", "com.otc.cts.trace.x", r#"{"trace_id":"f3"}"#)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body(r).await["error"], "rejected_by_store");
}

#[tokio::test]
async fn metrics_and_readyz_when_ready() {
    let h = harness().await;
    h.binary("m1", "com.otc.cts.trace.x", r#"{"trace_id":"m1"}"#)
        .await;
    let r = h
        .http
        .get(format!("{}/readyz", h.base))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), StatusCode::OK);
    let r = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .expect("request");
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    let text = r.text().await.expect("text");
    assert!(
        text.contains("neo4j_sink_events_total{outcome=\"stored\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("neo4j_sink_requests_total{code=\"202\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn the_byte_budget_of_bodies_in_flight_means_429() {
    let h = harness_bytes(MemoryStore::closed(), 100, true, 400).await;
    let payload = serde_json::to_vec(&structured("big1")).expect("json");
    assert!(
        payload.len() > 200 && payload.len() <= 400,
        "{}",
        payload.len()
    );
    let first = {
        let (http, base, body) = (h.http.clone(), h.base.clone(), payload.clone());
        tokio::spawn(async move {
            http.post(&base)
                .header("content-type", "application/cloudevents+json")
                .body(body)
                .send()
                .await
                .expect("request")
                .status()
        })
    };
    while h.state.batcher.depth() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let r = h
        .post(
            "application/cloudevents+json",
            serde_json::to_vec(&structured("big2")).expect("json"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(body(r).await["detail"]
        .as_str()
        .is_some_and(|d| d.contains("QUEUE_MAX_BYTES")));
    h.store.open();
    assert_eq!(first.await.expect("joined"), StatusCode::ACCEPTED);
    // The budget is returned after the answer.
    let r = h
        .post(
            "application/cloudevents+json",
            serde_json::to_vec(&structured("big3")).expect("json"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}
