//! SIGKILL at chosen moments of the exporter's life, a restart with the same
//! settings, and the emulator's ground truth against what the sink accepted:
//! nothing between the first start's lower edge and the last watermark may
//! be missing (issue 13).
//!
//! The moment is chosen from what the sink sees, not from a hook in the
//! binary: the sink accepts the first `stall_after` events and answers 503 to
//! every later one, so the exporter is stuck retrying at a known point of its
//! window (before its first event, a page half sent, a later window) when it
//! is killed.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudevents::AttributesReader;
use cts_emulator::{AuthKind, EmulatorConfig};

use crate::support::exporter::Exporter;
use crate::support::sink::{Reply, TestSink};
use crate::support::world::{env_with, history, World};

const LONG: Duration = Duration::from_secs(90);

/// A sink that accepts `stall_after` events, then answers 503 until opened.
struct StallingSink {
    sink: TestSink,
    open: Arc<AtomicBool>,
}

impl StallingSink {
    async fn start(stall_after: usize) -> StallingSink {
        let open = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let o = Arc::clone(&open);
        let sink = TestSink::start_with(Arc::new(move |_, _| {
            // Called under the sink's lock: the count is exact.
            if o.load(Ordering::SeqCst) || accepted.load(Ordering::SeqCst) < stall_after {
                accepted.fetch_add(1, Ordering::SeqCst);
                Reply::status(202)
            } else {
                Reply::status(503)
            }
        }))
        .await;
        StallingSink { sink, open }
    }

    /// Waits until the exporter is stuck: `stall_after` accepted and a
    /// refused request after them.
    async fn wait_stalled(&self, exporter: &Exporter) {
        let start = Instant::now();
        while !self.sink.received().iter().any(|r| r.answered == 503) {
            assert!(
                start.elapsed() < LONG,
                "the exporter never reached the stall point; stderr:\n{}",
                exporter.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `from_ms` of the "starting CTS_FROM back" line of `cloud`, if logged.
fn fresh_start_ms(stderr: &str, cloud: &str) -> Option<i64> {
    stderr
        .lines()
        .filter(|l| l.contains("no saved state; starting CTS_FROM back"))
        .filter(|l| l.contains(&format!("cloud={cloud} ")))
        .find_map(|l| {
            l.split("from_ms=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
}

/// Per event source, the watermark saved in the state file.
fn watermarks(state: &Path) -> HashMap<String, i64> {
    let Ok(bytes) = std::fs::read(state) else {
        return HashMap::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("state file is JSON");
    v["pollers"]
        .as_object()
        .expect("pollers")
        .iter()
        .filter_map(|(k, p)| Some((k.clone(), p["watermark_ms"].as_i64()?)))
        .collect()
}

/// What a killed-and-restarted run left, for one project.
struct Outcome {
    /// Traces with a time in (the first start's lower edge, the final watermark).
    expected: HashSet<String>,
    /// Of those, never accepted by the sink.
    missing: Vec<String>,
    /// Accepted ids the emulator never showed for the project.
    extra: Vec<String>,
}

/// Ids of `project_id`'s traces with `from < time < to`, from CTS itself.
async fn traces_between(world: &World, cloud: &str, from: i64, to: i64) -> HashSet<String> {
    world
        .all_traces_of(cloud)
        .await
        .into_values()
        .filter(|t| t.time.is_some_and(|x| from < x && x < to))
        .filter_map(|t| t.trace_id)
        .collect()
}

/// Starts an exporter for `clouds` (the last one is checked), stalls the
/// sink after `stall_after` accepted events, SIGKILLs the exporter there,
/// waits `down`, starts it again with the same settings and the sink open,
/// lets it catch up, and compares.
async fn kill_at_stall_and_restart(
    world: &World,
    clouds: &str,
    stall_after: usize,
    extra: &[(&str, &str)],
    down: Duration,
) -> Outcome {
    let checked = clouds.rsplit(',').next().expect("a cloud").to_string();
    let project_id = world
        .emu
        .projects()
        .into_iter()
        .find(|p| p.name == checked)
        .expect("project")
        .id;
    let stalling = StallingSink::start(stall_after).await;
    let state = world.path("state.json");
    let mut settings = vec![
        ("OS_CLOUD", clouds),
        ("CTS_FROM", "15"),
        ("CTS_STATE_FILE", state.to_str().expect("utf-8")),
    ];
    settings.extend_from_slice(extra);
    let env = env_with(world.env(&stalling.sink.url()), &settings);

    let first = Exporter::spawn(&[], &env, world.cwd());
    stalling.wait_stalled(&first).await;
    let killed = first.kill().await;
    let lower_edge = fresh_start_ms(&killed.stderr, &checked)
        .unwrap_or_else(|| panic!("no fresh start of {checked} logged:\n{}", killed.stderr));

    tokio::time::sleep(down).await; // a crash loop's back-off: CTS_FROM back is now later
    stalling.open.store(true, Ordering::SeqCst);
    let restarted_at = chrono::Utc::now().timestamp_millis();
    let second = Exporter::spawn(&[], &env, world.cwd());
    let source_part = format!("/projects/{project_id}/");
    let start = Instant::now();
    let wm = loop {
        let wm = watermarks(&state)
            .into_iter()
            .find(|(k, _)| k.contains(&source_part))
            .map(|(_, v)| v);
        if let Some(wm) = wm.filter(|w| *w >= restarted_at) {
            break wm;
        }
        assert!(
            start.elapsed() < LONG,
            "the restarted exporter did not catch up; stderr:\n{}",
            second.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let done = second.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    let expected = traces_between(world, &checked, lower_edge, wm).await;
    let visible: HashSet<String> = world
        .emu
        .visible_trace_ids(&project_id)
        .into_iter()
        .collect();
    let accepted: HashSet<String> = stalling
        .sink
        .received()
        .into_iter()
        .filter(|r| r.answered == 202)
        .filter(|r| r.event.source().to_string().contains(&source_part))
        .map(|r| r.event.id().to_string())
        .collect();
    let mut missing: Vec<String> = expected.difference(&accepted).cloned().collect();
    missing.sort();
    let mut extra: Vec<String> = accepted.difference(&visible).cloned().collect();
    extra.sort();
    Outcome {
        expected,
        missing,
        extra,
    }
}

fn assert_nothing_lost(o: &Outcome, what: &str) {
    assert!(
        o.expected.len() > 1_000,
        "{what}: enough traces ({})",
        o.expected.len()
    );
    assert!(
        o.missing.is_empty(),
        "{what}: {} of {} traces after the first start's lower edge never arrived, first: {:?}",
        o.missing.len(),
        o.expected.len(),
        &o.missing[..o.missing.len().min(5)]
    );
    assert!(
        o.extra.is_empty(),
        "{what}: ids the emulator never showed: {:?}",
        o.extra
    );
}

/// 8,000 traces over the last 20 minutes: about 7 a second, so a restart
/// that looks back `CTS_FROM` from its own start skips some for sure.
fn dense_history(projects: &[&str]) -> EmulatorConfig {
    EmulatorConfig {
        projects: projects.iter().map(|p| p.to_string()).collect(),
        ..history(8_000, Duration::from_secs(1_200))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_within_its_first_window_the_restart_resumes_from_the_first_lower_edge() {
    // The issue-13 report: a crash loop during the initial catch-up. The
    // default one-hour window makes the whole 15 minutes one window, so no
    // watermark is saved before the kill.
    let world = World::start(dense_history(&["eu-de_demo"]), AuthKind::Password).await;
    let o = kill_at_stall_and_restart(&world, "eu-de_demo", 500, &[], Duration::from_secs(4)).await;
    assert_nothing_lost(&o, "killed after 500 events of the first window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_its_first_event_was_accepted_the_restart_loses_nothing() {
    let world = World::start(dense_history(&["eu-de_demo"]), AuthKind::Password).await;
    let o = kill_at_stall_and_restart(&world, "eu-de_demo", 0, &[], Duration::from_secs(4)).await;
    assert_nothing_lost(&o, "killed before the first acknowledgement");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_a_page_half_sent_in_a_later_window_the_restart_loses_nothing() {
    // One-minute windows: the watermark has moved several times when the
    // 2,345th event (in the middle of a CTS page) stalls.
    let world = World::start(dense_history(&["eu-de_demo"]), AuthKind::Password).await;
    let o = kill_at_stall_and_restart(
        &world,
        "eu-de_demo",
        2_345,
        &[("CTS_MAX_WINDOW_SECS", "60")],
        Duration::from_secs(2),
    )
    .await;
    assert_nothing_lost(&o, "killed with a page half sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_added_later_saves_its_start_before_sending_and_survives_a_kill() {
    // The state file already holds the first cloud; the second is new, so
    // its poller starts CTS_FROM back and must save that start first.
    let world = World::start(
        dense_history(&["eu-de_alpha", "eu-nl_beta"]),
        AuthKind::Password,
    )
    .await;
    let sink = TestSink::start().await;
    let state = world.path("state.json");
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("OS_CLOUD", "eu-de_alpha"),
            ("CTS_FROM", "15"),
            ("CTS_STATE_FILE", state.to_str().expect("utf-8")),
        ],
    );
    let alone = Exporter::spawn(&[], &env, world.cwd());
    let start = Instant::now();
    while watermarks(&state)
        .values()
        .all(|w| *w < chrono::Utc::now().timestamp_millis() - 60_000)
    {
        assert!(
            start.elapsed() < LONG,
            "alpha caught up:\n{}",
            alone.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = alone.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(watermarks(&state).len(), 1);

    let o = kill_at_stall_and_restart(
        &world,
        "eu-de_alpha,eu-nl_beta",
        300,
        &[],
        Duration::from_secs(4),
    )
    .await;
    assert_nothing_lost(&o, "a cloud added later, killed in its first window");
}

/// Runs `args` (a backfill) against a sink that stalls after `stall_after`
/// events, SIGKILLs it there, runs the same command again with the sink
/// open, and returns the ids the sink accepted over both runs.
async fn kill_backfill_and_run_again(
    world: &World,
    args: &[&str],
    stall_after: usize,
) -> HashSet<String> {
    let stalling = StallingSink::start(stall_after).await;
    let env = world.env(&stalling.sink.url());
    let first = Exporter::spawn(args, &env, world.cwd());
    stalling.wait_stalled(&first).await;
    let killed = first.kill().await;
    assert!(
        !killed.stderr.contains("backfill done"),
        "killed before its end:\n{}",
        killed.stderr
    );
    stalling.open.store(true, Ordering::SeqCst);
    let done = Exporter::spawn(args, &env, world.cwd()).wait(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("backfill done"), "{}", done.stderr);
    stalling
        .sink
        .received()
        .into_iter()
        .filter(|r| r.answered == 202)
        .map(|r| r.event.id().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_archive_backfill_run_again_starts_over_and_loses_nothing() {
    // A backfill keeps no position: run again, it reads every file from the
    // start; what the first run delivered is sent again and merged by the sink.
    let world = World::start(
        history(3_000, Duration::from_secs(3_600)),
        AuthKind::Password,
    )
    .await;
    let (_, project_id) = world.project();
    let archive = world.path("bucket");
    world
        .emu
        .write_archives(&archive, &cts_emulator::ArchiveOptions::default())
        .expect("archives");
    let args = [
        "backfill",
        "--archive-dir",
        archive.to_str().expect("utf-8"),
    ];
    let accepted = kill_backfill_and_run_again(&world, &args, 1_234).await;
    let visible: HashSet<String> = world
        .emu
        .visible_trace_ids(&project_id)
        .into_iter()
        .collect();
    assert_eq!(visible.len(), 3_000);
    let missing = visible.difference(&accepted).count();
    assert_eq!(missing, 0, "{missing} archive traces never arrived");
    assert!(
        accepted.is_subset(&visible),
        "no id the archive does not hold"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_api_backfill_run_again_loses_nothing() {
    let world = World::start(
        history(3_000, Duration::from_secs(3 * 3_600)),
        AuthKind::Password,
    )
    .await;
    let now = chrono::Utc::now().timestamp_millis();
    let (since, until) = (now - 2 * 3_600_000, now - 1_800_000);
    let rfc = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .expect("time")
            .to_rfc3339()
    };
    let (since_s, until_s) = (rfc(since), rfc(until));
    let args = ["backfill", "--since", &since_s, "--until", &until_s];
    let accepted = kill_backfill_and_run_again(&world, &args, 777).await;
    let (cloud, _) = world.project();
    let expected: HashSet<String> = world
        .all_traces_of(&cloud)
        .await
        .into_values()
        .filter(|t| t.time.is_some_and(|x| since <= x && x < until))
        .filter_map(|t| t.trace_id)
        .collect();
    assert!(expected.len() > 1_000, "{}", expected.len());
    let missing = expected.difference(&accepted).count();
    assert_eq!(missing, 0, "{missing} traces of the range never arrived");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_that_cannot_be_written_stops_the_start_before_anything_is_sent() {
    // /proc/self is a directory nobody (root included) can create files in:
    // the state file opens (as missing), but the starting point cannot be saved.
    let world = World::start(history(50, Duration::from_secs(600)), AuthKind::Password).await;
    let sink = TestSink::start().await;
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("CTS_FROM", "15"),
            ("CTS_STATE_FILE", "/proc/self/cts-exporter-state.json"),
        ],
    );
    let done = Exporter::spawn(&[], &env, world.cwd()).wait(LONG).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("CTS_STATE_FILE (--state-file)")
            && done.stderr.contains("cannot save the state file")
            && done.stderr.contains("must be writable"),
        "{}",
        done.stderr
    );
    assert!(sink.received().is_empty(), "nothing sent");
}
