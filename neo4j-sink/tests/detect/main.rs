//! `neo4j-sink detect` as a process against the real Neo4j and a receiver
//! that records what it accepts: killed with SIGKILL in the middle of a run
//! (while the receiver holds one event) and restarted, the detector sends
//! every finding and none twice; K_CE_OVERRIDES, the CloudEvent attributes,
//! retries after 503 with Retry-After, /healthz and /metrics are checked on
//! the way. Skips when NEO4J_URI is unset; fails then with NEO4J_REQUIRED=1.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};
use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    /// Requests received (any answer).
    requests: usize,
    /// Events answered 2xx: (headers as map, data).
    accepted: Vec<(BTreeMap<String, String>, Value)>,
    /// When set, the request with this number (1-based) is held until `release`.
    hold: Option<usize>,
    /// Request numbers answered 503 with Retry-After: 0 on their first arrival.
    busy: Vec<usize>,
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Seen>>,
    held: Arc<Notify>,
    release: Arc<Notify>,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> impl IntoResponse {
    let n = {
        let mut s = r.seen.lock().expect("lock");
        s.requests += 1;
        s.requests
    };
    let (hold, busy) = {
        let s = r.seen.lock().expect("lock");
        (s.hold == Some(n), s.busy.contains(&n))
    };
    if hold {
        r.held.notify_one();
        r.release.notified().await;
        // The detector was killed meanwhile: this answer reaches no one.
        return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")]).into_response();
    }
    if busy {
        return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")]).into_response();
    }
    let map: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    let data: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    r.seen.lock().expect("lock").accepted.push((map, data));
    StatusCode::ACCEPTED.into_response()
}

#[path = "../support/sink_process.rs"]
mod sink_process;
/// The detector (`neo4j-sink detect`) as a child process with a clean environment and a free port.
use sink_process::Process;

fn neo4j() -> Option<(String, String, String)> {
    match std::env::var("NEO4J_URI") {
        Ok(u) if !u.trim().is_empty() => Some((
            u,
            std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into()),
            std::env::var("NEO4J_PASSWORD").unwrap_or_default(),
        )),
        _ => {
            assert!(
                std::env::var("NEO4J_REQUIRED").as_deref() != Ok("1"),
                "NEO4J_REQUIRED=1 but NEO4J_URI is not set"
            );
            eprintln!("skipped: NEO4J_URI not set");
            None
        }
    }
}

fn kms_deletion(ns: &str, i: usize) -> TraceRecord {
    let trace: cts_client::Trace = serde_json::from_value(json!({
        "trace_id": format!("{ns}k{i}"),
        "time": 1_717_408_800_000i64 + i as i64 * 1000,
        "trace_name": "scheduleKeyDeletion",
        "trace_rating": "normal",
        "trace_type": "ApiCall",
        "service_type": "KMS",
        "resource_type": "cmk",
        "resource_id": format!("key-{i}"),
        "source_ip": "198.51.100.7",
        "user": {"name": format!("user-{i}"), "domain": {"id": format!("{ns}dom")}},
    }))
    .expect("trace");
    let mut ctx = TraceContext::new(format!("{ns}p1"), "eu-de");
    ctx.domain_id = Some(format!("{ns}dom"));
    TraceRecord::new(trace, ctx)
}

fn start(ns: &str, sink: &str, env: &(String, String, String)) -> Process {
    let projects = format!("{ns}p1");
    let name = format!("{ns}d");
    Process::start_with(
        &["detect"],
        &[
            ("NEO4J_URI", env.0.as_str()),
            ("NEO4J_USER", env.1.as_str()),
            ("NEO4J_PASSWORD", env.2.as_str()),
            ("K_SINK", sink),
            ("K_CE_OVERRIDES", r#"{"extensions":{"team":"secops"}}"#),
            ("DETECT_NAME", name.as_str()),
            ("DETECT_PROJECTS", projects.as_str()),
            ("DETECT_RULES", "kms-key-deletion,mass-deletion"),
            ("DETECT_INTERVAL", "1"),
            ("DETECT_SEND_RETRIES", "3"),
            ("DETECT_WARM_UP", "true"),
            ("LOG_FORMAT", "text"),
            ("LOG_LEVEL", "info"),
        ],
    )
}

async fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool, p: &Process) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < limit,
            "timed out waiting for {what}; detector output:\n{}",
            p.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_mid_run_sends_every_finding_once() {
    let Some(env) = neo4j() else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let ns = format!("dp{:x}-", nanos % 0xffff_ffff_ffff);
    let writer = GraphWriter::connect(GraphConfig::new(
        env.0.clone(),
        env.1.clone(),
        env.2.clone(),
    ))
    .await
    .expect("connect");
    writer.ensure_schema().await.expect("schema");

    // The receiver: request 2 is answered 503 (Retry-After: 0) once, request 6 is held.
    let receiver = Receiver {
        seen: Arc::new(Mutex::new(Seen {
            hold: Some(6),
            busy: vec![2],
            ..Seen::default()
        })),
        held: Arc::new(Notify::new()),
        release: Arc::new(Notify::new()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sink = format!("http://{}/events", listener.local_addr().expect("addr"));
    let app = Router::new()
        .route("/events", post(receive))
        .with_state(receiver.clone());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await;
    });

    let first: Vec<TraceRecord> = (0..12).map(|i| kms_deletion(&ns, i)).collect();
    writer.write(&first).await.expect("write");

    let mut p = start(&ns, &sink, &env);
    // Killed while the receiver holds request 6: findings 1-4 acknowledged (request 2 was a 503).
    tokio::time::timeout(Duration::from_secs(60), receiver.held.notified())
        .await
        .unwrap_or_else(|_| panic!("request 6 never came; output:\n{}", p.output()));
    p.child.kill().expect("SIGKILL");
    p.child.wait().expect("wait");
    receiver.release.notify_one();
    let before_restart = receiver.seen.lock().expect("lock").accepted.len();
    assert_eq!(
        before_restart, 4,
        "four events acknowledged before the kill"
    );

    // Traces that arrive while the detector is down.
    let later: Vec<TraceRecord> = (12..15).map(|i| kms_deletion(&ns, i)).collect();
    writer.write(&later).await.expect("write");

    let mut p = start(&ns, &sink, &env);
    let seen = receiver.seen.clone();
    wait_for(
        "15 accepted findings",
        Duration::from_secs(90),
        || seen.lock().expect("lock").accepted.len() >= 15,
        &p,
    )
    .await;
    // A further interval must not send anything again.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let health = reqwest::get(format!("{}/healthz", p.base))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let metrics = reqwest::get(format!("{}/metrics", p.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .contains("neo4j_sink_findings_total{rule=\"kms-key-deletion\",severity=\"high\"} 3"),
        "the restarted detector stored the 3 late findings:\n{metrics}"
    );
    assert!(metrics.contains("neo4j_sink_detect_run_duration_seconds_count"));
    assert!(metrics.contains("neo4j_sink_detect_lag_seconds"));
    let out = p.output();
    assert!(
        out.contains("rule queries planned"),
        "DETECT_WARM_UP=true plans the rules before the first run:\n{out}"
    );
    p.child.kill().expect("kill");
    p.child.wait().expect("wait");
    let _ = stop_tx.send(());

    let (accepted, requests) = {
        let seen = receiver.seen.lock().expect("lock");
        (seen.accepted.clone(), seen.requests)
    };
    let ids: Vec<&str> = accepted
        .iter()
        .map(|(h, _)| h.get("ce-id").map(String::as_str).unwrap_or("?"))
        .collect();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "no finding accepted twice: {ids:?}"
    );
    let expected: Vec<String> = {
        let mut v: Vec<String> = (0..15)
            .map(|i| trace_graph::detect::finding_id("kms-key-deletion", &format!("{ns}k{i}")))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        distinct,
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "every finding, none missing"
    );
    for (h, data) in &accepted {
        assert_eq!(h.get("ce-specversion").map(String::as_str), Some("1.0"));
        assert_eq!(
            h.get("ce-type").map(String::as_str),
            Some("com.otc.cts.finding.kms-key-deletion")
        );
        assert_eq!(
            h.get("ce-source").map(String::as_str),
            Some(format!("/neo4j-sink/detect/{ns}d").as_str())
        );
        assert_eq!(
            h.get("ce-team").map(String::as_str),
            Some("secops"),
            "K_CE_OVERRIDES applied"
        );
        assert_eq!(h.get("ce-severity").map(String::as_str), Some("high"));
        assert!(h.get("ce-time").is_some_and(|t| t.ends_with('Z')), "{h:?}");
        assert_eq!(data["rule"], "kms-key-deletion");
        assert_eq!(data["severity"], "high");
        assert_eq!(data["finding"].as_str(), h.get("ce-id").map(String::as_str));
        let action = data["actions"][0].as_str().expect("an action");
        assert!(action.starts_with(&format!("{ns}k")), "{data}");
        assert!(data["evidenceQuery"]
            .as_str()
            .is_some_and(|q| q.contains("EVIDENCE")));
        assert_eq!(data["ips"][0], "198.51.100.7");
    }
    // The receiver saw 4 + held + retried + 11 more requests: the held one came again.
    assert!(requests >= 17, "requests: {requests}");

    // Our own findings and detector only.
    let graph = neo4rs::Graph::new(env.0.as_str(), env.1.as_str(), env.2.as_str()).expect("graph");
    let mut rows = graph
        .execute(
            neo4rs::query("MATCH (f:Finding) WHERE f.detector = $d RETURN count(f) AS n, count(CASE WHEN f:Unsent THEN 1 END) AS unsent")
                .param("d", format!("{ns}d")),
        )
        .await
        .expect("count");
    let row = rows.next().await.expect("row").expect("a row");
    assert_eq!(row.get::<i64>("n").expect("n"), 15);
    assert_eq!(row.get::<i64>("unsent").expect("unsent"), 0);
    graph
        .run(
            neo4rs::query("MATCH (n) WHERE (n:Finding AND n.detector = $d) OR (n:Detector AND n.name = $d) DETACH DELETE n")
                .param("d", format!("{ns}d")),
        )
        .await
        .expect("cleanup");
}

#[test]
fn bad_settings_exit_78_naming_the_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_neo4j-sink"))
        .args(["detect"])
        .env_clear()
        .env("NEO4J_PASSWORD", "pw")
        .env("K_SINK", "http://127.0.0.1:9/x")
        .env("DETECT_MASS_DELETION_WINDOW_SECS", "soon")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DETECT_MASS_DELETION_WINDOW_SECS") && err.contains("soon"),
        "{err}"
    );
}
