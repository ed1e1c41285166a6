//! Delivery: the sink down and back, what is retried and what is not,
//! overrides and structured mode.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use cts_emulator::AuthKind;

use crate::support::exporter::{get, metric, Exporter};
use crate::support::sink::{Reply, TestSink};
use crate::support::world::{env_with, history, World};

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_down_for_a_while_then_back_gets_every_trace_exactly_once() {
    let world = World::start(history(300, Duration::from_secs(600)), AuthKind::Password).await;
    let (_, project_id) = world.project();
    // A port with nobody listening: every send fails to connect.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let env = env_with(
        world.env(&url),
        &[("CTS_FROM", "15"), ("CTS_DELIVERY_CONCURRENCY", "8")],
    );
    let mut exporter = Exporter::spawn(&[], &env, world.cwd());
    let ops = exporter.ops_addr().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, text) = get(ops, "/metrics").await;
    assert_eq!(metric(&text, "cts_exporter_events_acknowledged_total"), 0.0);
    assert!(metric(&text, "cts_exporter_retries_total") > 8.0, "{text}");
    let fetched = metric(&text, "cts_exporter_traces_fetched_total");
    assert!(
        fetched <= 9.0,
        "polling pauses while the sink is down: {fetched} traces taken in"
    );

    let sink = TestSink::start_on(
        format!("127.0.0.1:{port}").parse().expect("addr"),
        Arc::new(|_, _| Reply::status(202)),
    )
    .await;
    sink.wait_until(LONG, "all 300 traces after the sink came back", |s| {
        s.accepted().len() == 300
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = sink.accepted();
    assert!(
        accepted.values().all(|n| *n == 1),
        "exactly once at the sink"
    );
    let visible: HashSet<String> = world
        .emu
        .visible_trace_ids(&project_id)
        .into_iter()
        .collect();
    assert_eq!(accepted.keys().cloned().collect::<HashSet<_>>(), visible);
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
}

/// The test's answer plan, by the last hex digit of the id.
fn class(id: &str) -> char {
    id.chars().last().unwrap_or('x')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_is_dead_lettered_while_503_and_429_are_retried() {
    let world = World::start(history(160, Duration::from_secs(600)), AuthKind::Password).await;
    let sink = TestSink::start_with(Arc::new(|id, attempt| match (class(id), attempt) {
        ('0', _) => Reply::status(400),
        ('1', 1 | 2) => Reply::status(503),
        ('2', 1) => Reply {
            status: 429,
            retry_after: Some("1".into()),
        },
        _ => Reply::status(202),
    }))
    .await;
    let dead = world.path("dead.ndjson");
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("CTS_FROM", "15"),
            ("CTS_DEAD_LETTER_FILE", dead.to_str().expect("utf-8")),
        ],
    );
    let mut exporter = Exporter::spawn(&[], &env, world.cwd());
    let ops = exporter.ops_addr().await;
    let expected_attempts = |id: &str| match class(id) {
        '1' => 3,
        '2' => 2,
        _ => 1,
    };
    sink.wait_until(LONG, "every trace at its final answer", |s| {
        let a = s.attempts();
        a.len() == 160 && a.iter().all(|(id, v)| v.len() >= expected_attempts(id))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // room for any wrong extra retry

    let attempts: HashMap<String, Vec<_>> = sink.attempts();
    let mut rejected = HashSet::new();
    let mut retries = 0;
    for (id, tries) in &attempts {
        assert_eq!(tries.len(), expected_attempts(id), "attempts of {id}");
        match class(id) {
            '0' => {
                rejected.insert(id.clone());
            }
            '1' => retries += 2,
            '2' => {
                retries += 1;
                let gap = tries[1].at - tries[0].at;
                assert!(
                    gap >= Duration::from_millis(950),
                    "Retry-After: 1 honoured, waited {gap:?}"
                );
            }
            _ => {}
        }
    }
    assert!(
        !rejected.is_empty() && retries > 0,
        "the id classes occur in the data"
    );
    let (_, text) = get(ops, "/metrics").await;
    assert_eq!(
        metric(&text, "cts_exporter_events_rejected_total"),
        rejected.len() as f64,
        "{text}"
    );
    assert_eq!(metric(&text, "cts_exporter_retries_total"), retries as f64);
    assert_eq!(
        metric(&text, "cts_exporter_events_acknowledged_total"),
        (160 - rejected.len()) as f64
    );

    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let lines = std::fs::read_to_string(&dead).expect("dead-letter file");
    let dead_ids: HashSet<String> = lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            assert_eq!(v["status"], 400);
            assert_eq!(v["event"]["id"], v["id"], "the refused event is kept");
            v["id"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(dead_ids, rejected);
    let some = rejected.iter().next().expect("one");
    assert!(
        done.stderr.contains(some.as_str()) && done.stderr.contains("sink answered 400"),
        "logged with id and reason"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_apply_to_every_event_in_structured_mode() {
    let world = World::start(history(30, Duration::from_secs(600)), AuthKind::Password).await;
    let sink = TestSink::start().await;
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("CTS_FROM", "15"),
            ("CTS_EVENT_MODE", "structured"),
            (
                "K_CE_OVERRIDES",
                r#"{"extensions":{"team":"ops","env":"test"}}"#,
            ),
        ],
    );
    let exporter = Exporter::spawn(&[], &env, world.cwd());
    sink.wait_until(LONG, "30 events", |s| s.accepted().len() == 30)
        .await;
    for r in sink.received() {
        assert_eq!(
            r.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/cloudevents+json")
        );
        assert!(
            !r.headers.contains_key("ce-id"),
            "structured mode has no ce-* headers"
        );
        assert_eq!(
            r.event.extension("team").map(|v| v.to_string()).as_deref(),
            Some("ops")
        );
        assert_eq!(
            r.event.extension("env").map(|v| v.to_string()).as_deref(),
            Some("test")
        );
        assert!(r.event.extension("project").is_some());
    }
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_sink_is_down_abandons_sends_within_the_grace_period() {
    let world = World::start(history(50, Duration::from_secs(600)), AuthKind::Password).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let state = world.path("state.json");
    let env = env_with(
        world.env(&format!("http://127.0.0.1:{port}/")),
        &[
            ("CTS_FROM", "15"),
            ("CTS_SHUTDOWN_GRACE_SECS", "2"),
            ("CTS_STATE_FILE", state.to_str().expect("utf-8")),
        ],
    );
    let mut exporter = Exporter::spawn(&[], &env, world.cwd());
    exporter.ops_addr().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = std::time::Instant::now();
    let done = exporter.terminate(LONG).await;
    let took = asked.elapsed();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(
        took < Duration::from_secs(6),
        "stopped within the 2 s grace (plus start-up slack): {took:?}"
    );
    assert!(done.stderr.contains("abandoned"), "{}", done.stderr);
    // Nothing was acknowledged, so the saved watermark is still the start point
    // and no id is recorded as delivered: a restart sends everything.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
    let poller = saved["pollers"]
        .as_object()
        .and_then(|m| m.values().next())
        .expect("one poller")
        .clone();
    assert_eq!(
        poller["delivered"].as_array().map(Vec::len),
        Some(0),
        "{poller}"
    );
    let wm = poller["watermark_ms"].as_i64().expect("watermark");
    assert!(
        wm <= chrono::Utc::now().timestamp_millis() - 14 * 60_000,
        "the watermark did not move: {wm}"
    );
}
