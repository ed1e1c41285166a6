//! Polling: every trace once, late traces, restarts, several clouds, dry run.

use std::collections::HashSet;
use std::time::Duration;

use cloudevents::AttributesReader;
use cts_emulator::AuthKind;

use crate::support::exporter::{get, metric, Exporter};
use crate::support::sink::TestSink;
use crate::support::world::{env_with, history, World};

const LONG: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_every_trace_once_as_a_binary_cloudevent() {
    let world = World::start(history(400, Duration::from_secs(600)), AuthKind::Password).await;
    let sink = TestSink::start().await;
    let (_, project_id) = world.project();
    let state = world.path("state.json");
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("CTS_FROM", "15"),
            ("CTS_STATE_FILE", state.to_str().expect("utf-8")),
        ],
    );
    let mut exporter = Exporter::spawn(&[], &env, world.cwd());
    let ops = exporter.ops_addr().await;
    let visible: HashSet<String> = world
        .emu
        .visible_trace_ids(&project_id)
        .into_iter()
        .collect();
    assert_eq!(visible.len(), 400);
    sink.wait_until(LONG, "all 400 traces at the sink", |s| {
        s.accepted().len() == 400
    })
    .await;

    let accepted = sink.accepted();
    assert_eq!(accepted.keys().cloned().collect::<HashSet<_>>(), visible);
    assert!(
        accepted.values().all(|n| *n == 1),
        "each trace exactly once"
    );

    // Binary content mode: attributes in ce-* headers, the trace JSON as body.
    let first = &sink.received()[0];
    assert!(first.headers.contains_key("ce-id"), "{:?}", first.headers);
    assert_eq!(
        first
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let ev = &first.event;
    assert!(ev.ty().starts_with("com.otc.cts.trace."), "{}", ev.ty());
    assert_eq!(
        ev.source().to_string(),
        format!(
            "{}projects/{project_id}/trackers/system",
            world.emu.base_url()
        )
    );
    for ext in [
        "project",
        "region",
        "domain",
        "tracker",
        "service",
        "operation",
    ] {
        assert!(
            ev.extension(ext).is_some(),
            "extension {ext} missing on {ev}"
        );
    }
    assert_eq!(
        ev.extension("project").map(|v| v.to_string()),
        Some(project_id.clone())
    );
    assert_eq!(
        ev.extension("domain").map(|v| v.to_string()),
        Some(world.emu.domain().id)
    );

    let (status, body) = get(ops, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (_, text) = get(ops, "/metrics").await;
    assert_eq!(
        metric(&text, "cts_exporter_events_acknowledged_total"),
        400.0,
        "{text}"
    );
    assert_eq!(metric(&text, "cts_exporter_events_sent_total"), 400.0);
    assert_eq!(metric(&text, "cts_exporter_events_rejected_total"), 0.0);
    assert!(metric(&text, "cts_exporter_traces_fetched_total") >= 400.0);
    assert!(metric(&text, "cts_exporter_poll_duration_seconds_count") >= 1.0);
    let lag = metric(&text, "cts_exporter_lag_seconds");
    assert!((0.0..600.0).contains(&lag), "lag {lag}");

    let done = exporter.terminate(LONG).await;
    assert_eq!(
        done.code,
        Some(0),
        "SIGTERM exits 0; stderr:\n{}",
        done.stderr
    );
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state file written")).expect("json");
    let pollers = saved["pollers"].as_object().expect("pollers");
    assert_eq!(pollers.len(), 1);
    let wm = pollers
        .values()
        .next()
        .and_then(|p| p["watermark_ms"].as_i64())
        .expect("watermark");
    assert!(
        wm > chrono::Utc::now().timestamp_millis() - 60_000,
        "watermark is recent: {wm}"
    );
}

/// The watermark the exporter saved for its only poller.
fn saved_watermark(path: &std::path::Path) -> i64 {
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("state file")).expect("json");
    let pollers = saved["pollers"].as_object().expect("pollers");
    pollers
        .values()
        .next()
        .and_then(|p| p["watermark_ms"].as_i64())
        .expect("watermark")
}

/// The traces the watermark promises were delivered: those whose time is
/// before it and that were visible (recorded) when the last window was read.
async fn visible_before(world: &World, wm: i64) -> Vec<cts_client::Trace> {
    world
        .all_traces()
        .await
        .into_values()
        .filter(|t| t.time.is_some_and(|x| x < wm) && t.record_time.is_some_and(|r| r < wm))
        .collect()
}

/// Live traces that become visible up to 3 s after their time, polled every second.
fn live() -> cts_emulator::EmulatorConfig {
    cts_emulator::EmulatorConfig {
        history_count: 0,
        live_rate_per_sec: 40.0,
        max_ingestion_delay: Duration::from_secs(3),
        ..cts_emulator::EmulatorConfig::default()
    }
}

/// Runs the exporter over live traces for `run` with `lateness_secs`, then
/// returns (traces with time before the final watermark, the sink).
async fn run_live(
    world: &World,
    lateness_secs: &str,
    run: Duration,
) -> (Vec<cts_client::Trace>, TestSink) {
    let sink = TestSink::start().await;
    let state = world.path(&format!("state-{lateness_secs}.json"));
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("CTS_FROM", "1"),
            ("CTS_POLL_INTERVAL_SECS", "1"),
            ("CTS_LATENESS_SECS", lateness_secs),
            ("CTS_STATE_FILE", state.to_str().expect("utf-8")),
        ],
    );
    let exporter = Exporter::spawn(&[], &env, world.cwd());
    tokio::time::sleep(run).await;
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let wm = saved_watermark(&state);
    (visible_before(world, wm).await, sink)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_traces_are_caught_by_the_lateness_window() {
    let world = World::start(live(), AuthKind::Password).await;
    let (covered, sink) = run_live(&world, "6", Duration::from_secs(8)).await;
    let accepted = sink.accepted();
    assert!(covered.len() > 100, "enough traffic: {}", covered.len());
    let missing: Vec<_> = covered
        .iter()
        .filter(|t| !accepted.contains_key(t.id().unwrap_or("")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} traces before the watermark never reached the sink",
        missing.len(),
        covered.len()
    );
    assert!(accepted.values().all(|n| *n == 1), "no trace twice");
    let late = covered
        .iter()
        .filter(|t| {
            t.record_time
                .zip(t.time)
                .is_some_and(|(r, t)| r - t > 1_500)
        })
        .count();
    assert!(late > 10, "the run had late traces to catch ({late})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_lateness_window_late_traces_are_missed() {
    // The control for the test above: the same run with no overlap loses traces,
    // so the overlap is what catches them.
    let world = World::start(live(), AuthKind::Password).await;
    let (covered, sink) = run_live(&world, "0", Duration::from_secs(6)).await;
    let accepted = sink.accepted();
    let missing = covered
        .iter()
        .filter(|t| !accepted.contains_key(t.id().unwrap_or("")))
        .count();
    assert!(
        missing > 0,
        "with CTS_LATENESS_SECS=0 some late traces must be missed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_state_file_leaves_no_gap_and_repeats_nothing() {
    let world = World::start(live(), AuthKind::Password).await;
    let sink = TestSink::start().await;
    let state = world.path("state.json");
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("CTS_FROM", "1"),
            ("CTS_POLL_INTERVAL_SECS", "1"),
            ("CTS_LATENESS_SECS", "6"),
            ("CTS_STATE_FILE", state.to_str().expect("utf-8")),
        ],
    );
    let first = Exporter::spawn(&[], &env, world.cwd());
    tokio::time::sleep(Duration::from_secs(4)).await;
    let done = first.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let wm_first = saved_watermark(&state);
    let after_first = sink.accepted().len();
    assert!(after_first > 0);

    tokio::time::sleep(Duration::from_secs(3)).await; // traces keep coming while it is down
    let second = Exporter::spawn(&[], &env, world.cwd());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let done = second.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(
        done.stderr.contains("resuming from the state file"),
        "{}",
        done.stderr
    );
    let wm = saved_watermark(&state);
    assert!(
        wm > wm_first + 3_000,
        "the second run moved the watermark on"
    );

    let accepted = sink.accepted();
    let repeated: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "traces sent twice across the restart: {repeated:?}"
    );
    let covered = visible_before(&world, wm).await;
    let missing: Vec<_> = covered
        .iter()
        .filter(|t| !accepted.contains_key(t.id().unwrap_or("")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} traces missing after the restart",
        missing.len(),
        covered.len()
    );
    assert!(
        accepted.len() > after_first,
        "the second run delivered more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_clouds_run_side_by_side_each_with_its_own_state() {
    let cfg = cts_emulator::EmulatorConfig {
        projects: vec!["eu-de_alpha".into(), "eu-nl_beta".into()],
        ..history(100, Duration::from_secs(600))
    };
    let world = World::start(cfg, AuthKind::Password).await;
    let sink = TestSink::start().await;
    let state = world.path("state.json");
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("OS_CLOUD", "eu-de_alpha,eu-nl_beta"),
            ("CTS_FROM", "15"),
            ("CTS_STATE_FILE", state.to_str().expect("utf-8")),
        ],
    );
    let mut exporter = Exporter::spawn(&[], &env, world.cwd());
    let ops = exporter.ops_addr().await;
    sink.wait_until(LONG, "200 traces from two projects", |s| {
        s.accepted().len() == 200
    })
    .await;
    let mut by_region = std::collections::HashMap::new();
    for r in sink.received() {
        let region = r
            .event
            .extension("region")
            .map(|v| v.to_string())
            .expect("region");
        let project = r
            .event
            .extension("project")
            .map(|v| v.to_string())
            .expect("project");
        assert!(
            r.event.source().to_string().contains(&project),
            "source names the project"
        );
        *by_region.entry(region).or_insert(0) += 1;
    }
    assert_eq!(by_region.get("eu-de"), Some(&100));
    assert_eq!(by_region.get("eu-nl"), Some(&100));
    let (_, text) = get(ops, "/metrics").await;
    assert!(
        text.contains("cts_exporter_events_acknowledged_total{cloud=\"eu-de_alpha\"} 100"),
        "{text}"
    );
    assert!(
        text.contains("cts_exporter_events_acknowledged_total{cloud=\"eu-nl_beta\"} 100"),
        "{text}"
    );
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).expect("state")).expect("json");
    assert_eq!(
        saved["pollers"].as_object().map(|m| m.len()),
        Some(2),
        "{saved}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_structured_events_instead_of_sending() {
    let world = World::start(history(50, Duration::from_secs(600)), AuthKind::Password).await;
    let (_, project_id) = world.project();
    let env = env_with(
        world.env("unused"),
        &[("CTS_X_PNP", "false"), ("CTS_FROM", "15")],
    );
    let env = crate::support::world::without(env, &["K_SINK"]);
    let exporter = Exporter::spawn(&[], &env, world.cwd());
    let start = std::time::Instant::now();
    while exporter.stdout().lines().count() < 50 {
        assert!(
            start.elapsed() < LONG,
            "only {} lines:\n{}",
            exporter.stdout().lines().count(),
            exporter.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let mut ids = HashSet::new();
    for line in done.stdout.lines() {
        let ev: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert_eq!(ev["specversion"], "1.0");
        assert_eq!(ev["project"], project_id.as_str());
        assert_eq!(ev["data"]["trace_id"], ev["id"], "data is the trace");
        ids.insert(ev["id"].as_str().expect("id").to_string());
    }
    let visible: HashSet<String> = world
        .emu
        .visible_trace_ids(&project_id)
        .into_iter()
        .collect();
    assert_eq!(ids, visible);
    assert!(
        !done.stderr.contains("\"specversion\""),
        "logs stay on stderr, events on stdout"
    );
}
