//! `cts_client::follow::Follower` against a scripted source and a real file checkpoint:
//! each trace handed out once, the starting point saved first, unacknowledged traces
//! handed out again, a restart resuming without gap or repeat, and a state file the
//! old cts-exporter wrote resumed in place.
#![cfg(feature = "follow")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cts_client::follow::{
    FetchError, Fetched, FileCheckpoint, FollowOptions, Followed, Follower, Position, TraceSource,
    Window,
};
use cts_client::Trace;
use futures::stream::{self, BoxStream, StreamExt};

/// Traces with fixed times; answers each window with those inside it, newest
/// first (as CTS does), and records the windows asked for.
#[derive(Debug, Default)]
struct Scripted {
    traces: Mutex<Vec<Trace>>,
    windows: Mutex<Vec<Window>>,
    /// Sent with every window, as CTS would send a trace the model cannot read.
    undecodable: Mutex<Option<cts_client::UndecodableTrace>>,
}

impl Scripted {
    fn with(traces: &[(&str, i64)]) -> Arc<Scripted> {
        let s = Arc::new(Scripted::default());
        for (id, t) in traces {
            s.add(id, *t);
        }
        s
    }
    fn add(&self, id: &str, time_ms: i64) {
        let t = Trace {
            trace_id: Some(id.to_string()),
            trace_name: Some("createServer ü 服务器".into()),
            time: Some(time_ms),
            ..Trace::default()
        };
        self.traces.lock().expect("lock").push(t);
    }
    fn windows(&self) -> Vec<Window> {
        self.windows.lock().expect("lock").clone()
    }
}

impl TraceSource for Scripted {
    fn traces(&self, w: Window) -> BoxStream<'static, Result<Fetched, FetchError>> {
        self.windows.lock().expect("lock").push(w);
        let mut inside: Vec<Trace> = self
            .traces
            .lock()
            .expect("lock")
            .iter()
            .filter(|t| t.time.is_some_and(|x| w.from_ms < x && x < w.to_ms))
            .cloned()
            .collect();
        inside.sort_by_key(|t| std::cmp::Reverse(t.time));
        let bad = self.undecodable.lock().expect("lock").clone();
        let items: Vec<Result<Fetched, FetchError>> = inside
            .into_iter()
            .map(|t| Ok(Fetched::Trace(t)))
            .chain(bad.map(|u| Ok(Fetched::Undecodable(u))))
            .collect();
        stream::iter(items).boxed()
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
}

fn options() -> FollowOptions {
    FollowOptions {
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(200),
        ..FollowOptions::default()
    }
}

/// Takes up to `n` traces (acknowledging them) or until nothing comes for `idle`.
async fn take(f: &mut Follower, n: usize, idle: Duration) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < n {
        let Ok(Some(item)) = tokio::time::timeout(idle, f.next()).await else {
            break;
        };
        if let Followed::Trace(d) = item.expect("no fatal error") {
            ids.push(d.trace.trace_id.clone().expect("id"));
            d.ack();
        }
    }
    ids
}

#[tokio::test]
async fn a_restart_resumes_without_gap_or_repeat_and_the_start_is_saved_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let now = now_ms();
    let traces: Vec<(String, i64)> = (0..50)
        .map(|i| (format!("id-{i}"), now - 200_000 + i * 1000))
        .collect();
    let refs: Vec<(&str, i64)> = traces.iter().map(|(i, t)| (i.as_str(), *t)).collect();
    let source = Scripted::with(&refs);

    let mut f = Follower::start(
        "k",
        Arc::clone(&source),
        FileCheckpoint::open(&path).expect("open"),
        options(),
    )
    .await
    .expect("start");
    // Saved before anything was handed out: the lower edge of the first window.
    let start = FileCheckpoint::open(&path)
        .expect("reopen")
        .get("k")
        .expect("starting point saved");
    assert_eq!(start.floor_ms, Some(start.watermark_ms));
    assert!(
        (now - 300_000 - start.watermark_ms).abs() < 5_000,
        "{start:?}"
    );
    let first = take(&mut f, 20, Duration::from_secs(5)).await;
    assert_eq!(first.len(), 20);
    f.stop().await.expect("stop");

    let mut f = Follower::start(
        "k",
        Arc::clone(&source),
        FileCheckpoint::open(&path).expect("open"),
        options(),
    )
    .await
    .expect("restart");
    let second = take(&mut f, usize::MAX, Duration::from_millis(500)).await;
    f.stop().await.expect("stop");
    let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
    all.sort();
    let mut want: Vec<String> = traces.into_iter().map(|(i, _)| i).collect();
    want.sort();
    assert_eq!(all, want, "every trace once over both runs");
    let windows = source.windows();
    assert_eq!(
        windows[0].from_ms, start.watermark_ms,
        "the first window starts at the saved start"
    );
}

#[tokio::test]
async fn an_unacknowledged_trace_comes_again_and_holds_the_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    let now = now_ms();
    let source = Scripted::with(&[("a", now - 10_000), ("b", now - 20_000)]);
    let mut f = Follower::start(
        "k",
        Arc::clone(&source),
        FileCheckpoint::open(&path).expect("open"),
        options(),
    )
    .await
    .expect("start");
    let Some(Ok(Followed::Trace(dropped))) = f.next().await else {
        panic!("a trace");
    };
    let dropped_id = dropped.trace.trace_id.clone().expect("id");
    let start = FileCheckpoint::open(&path)
        .expect("reopen")
        .get("k")
        .expect("saved");
    drop(dropped); // not acknowledged
    let rest = take(&mut f, 2, Duration::from_secs(10)).await;
    assert!(
        rest.contains(&dropped_id),
        "the dropped trace is handed out again: {rest:?}"
    );
    assert_eq!(rest.len(), 2, "{rest:?}");
    // Only now (both acknowledged) may the position move on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pos = FileCheckpoint::open(&path)
        .expect("reopen")
        .get("k")
        .expect("saved");
    assert!(pos.watermark_ms > start.watermark_ms, "{pos:?}");
    f.stop().await.expect("stop");
}

/// A state file written by cts-exporter before the engine moved into cts-client
/// (tests/fixtures/exporter-state-v1.json, from the old binary against cts-emulator),
/// shifted in time so its watermark is a minute ago.
#[tokio::test]
async fn a_state_file_the_old_exporter_wrote_is_resumed_in_place() {
    let text = include_str!("fixtures/exporter-state-v1.json");
    let mut v: serde_json::Value = serde_json::from_str(text).expect("json");
    let (key, entry) = v["pollers"]
        .as_object_mut()
        .expect("pollers")
        .iter_mut()
        .next()
        .expect("one entry");
    let key = key.clone();
    let old_wm = entry["watermark_ms"].as_i64().expect("watermark");
    let shift = now_ms() - 60_000 - old_wm;
    let mut delivered = Vec::new();
    for field in ["watermark_ms", "floor_ms"] {
        if let Some(x) = entry[field].as_i64() {
            entry[field] = (x + shift).into();
        }
    }
    for d in entry["delivered"].as_array_mut().expect("delivered") {
        let t = d["time_ms"].as_i64().expect("time") + shift;
        d["time_ms"] = t.into();
        delivered.push((d["id"].as_str().expect("id").to_string(), t));
    }
    assert!(delivered.len() > 3, "the fixture holds delivered ids");
    let wm = old_wm + shift;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    std::fs::write(&path, serde_json::to_vec(&v).expect("json")).expect("write");

    let mut refs: Vec<(&str, i64)> = delivered.iter().map(|(i, t)| (i.as_str(), *t)).collect();
    refs.push(("late-in-the-overlap", wm - 30_000));
    refs.push(("new-after-the-watermark", wm + 10_000));
    let source = Scripted::with(&refs);
    let checkpoint = FileCheckpoint::open(&path).expect("the old format opens");
    assert_eq!(checkpoint.keys(), vec![key.clone()]);
    let mut f = Follower::start(key.as_str(), Arc::clone(&source), checkpoint, options())
        .await
        .expect("start");
    let mut got = take(&mut f, usize::MAX, Duration::from_millis(500)).await;
    f.stop().await.expect("stop");
    got.sort();
    assert_eq!(
        got,
        vec!["late-in-the-overlap", "new-after-the-watermark"],
        "the delivered ids are not handed out again, the rest is"
    );
    assert_eq!(
        source.windows()[0].from_ms,
        wm - 180_000 - 1,
        "resumed at the saved watermark, reaching back the lateness"
    );
    let saved: Position = FileCheckpoint::open(&path)
        .expect("reopen")
        .get(&key)
        .expect("entry");
    assert!(saved.watermark_ms > wm);
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    assert_eq!(file["version"], 1, "still the exporter's format");
}

#[tokio::test]
async fn a_bad_state_file_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state.json");
    std::fs::write(
        &path,
        "{\"version\":1,\"pollers\":{\"k\":{\"watermark_ms\":\"soon\"}}}",
    )
    .expect("write");
    let e = FileCheckpoint::open(&path)
        .expect_err("invalid")
        .to_string();
    assert!(e.contains("not valid") && e.contains("delete it"), "{e}");
    let missing_dir = dir.path().join("nope/state.json");
    let source = Scripted::with(&[]);
    let e = Follower::start(
        "k",
        source,
        FileCheckpoint::open(&missing_dir).expect("a missing file is empty"),
        options(),
    )
    .await
    .expect_err("the starting point cannot be saved")
    .to_string();
    assert!(e.contains("cannot save the state file"), "{e}");
}

/// A [`Deliver`] that acknowledges at once and records what it got.
#[derive(Debug)]
struct Collect {
    seen: cts_client::follow::Seen,
    ids: Vec<String>,
    undecodable: usize,
    retries: u32,
}

impl Collect {
    fn new() -> Collect {
        Collect {
            seen: cts_client::follow::Seen::new(1000),
            ids: Vec::new(),
            undecodable: 0,
            retries: 0,
        }
    }
}

impl cts_client::follow::Deliver for Collect {
    fn seen(&self) -> &cts_client::follow::Seen {
        &self.seen
    }
    fn seen_mut(&mut self) -> &mut cts_client::follow::Seen {
        &mut self.seen
    }
    async fn offer(&mut self, trace: Trace, fallback_time_ms: i64) {
        let id = trace.id().unwrap_or("").to_string();
        if self.seen.claim(&id, trace.time.unwrap_or(fallback_time_ms)) {
            self.seen.complete(&id);
            self.ids.push(id);
        }
    }
    async fn undecodable(&mut self, _trace: cts_client::UndecodableTrace) {
        self.undecodable += 1;
    }
    async fn drain(&mut self) -> bool {
        true
    }
    fn in_flight(&self) -> usize {
        0
    }
    async fn stop(&mut self, _grace: Duration) -> usize {
        0
    }
    fn progress(&mut self, p: cts_client::follow::Progress<'_>) {
        if let cts_client::follow::Progress::Retrying { .. } = p {
            self.retries += 1;
        }
    }
}

#[tokio::test]
async fn an_api_backfill_covers_its_range_once_in_windows_without_gaps() {
    use cts_client::follow::backfill::{from_api, Ended};
    // Traces on both edges and on window boundaries (every 1000 ms).
    let traces: Vec<(String, i64)> = (0..=30)
        .map(|i| (format!("t{i}"), 10_000 + i * 500))
        .collect();
    let refs: Vec<(&str, i64)> = traces.iter().map(|(i, t)| (i.as_str(), *t)).collect();
    let source = Scripted::with(&refs);
    let (_stop, mut shutdown) = tokio::sync::watch::channel(false);
    let mut d = Collect::new();
    // [10_000, 25_000): t0..=t29, not t30 (at 25_000).
    let ended = from_api(
        &*source,
        10_000,
        25_000,
        Duration::from_millis(1000),
        &mut d,
        &mut shutdown,
    )
    .await
    .expect("backfill");
    assert_eq!(ended, Ended::Done);
    let mut want: Vec<String> = (0..30).map(|i| format!("t{i}")).collect();
    want.sort();
    d.ids.sort();
    assert_eq!(d.ids, want);
    let windows = source.windows();
    assert_eq!(windows.len(), 15);
    for pair in windows.windows(2) {
        assert_eq!(
            pair[1].from_ms,
            pair[0].to_ms - 1,
            "each window starts where the last ended"
        );
    }
}

#[cfg(feature = "archive")]
#[tokio::test]
async fn an_archive_backfill_never_sends_a_trace_of_another_project() {
    use cts_client::follow::backfill::{from_archive, Ended};
    let dir = tempfile::tempdir().expect("tempdir");
    let ours = "0123456789abcdef0123456789abcdef";
    let other = "fedcba9876543210fedcba9876543210";
    let file = dir
        .path()
        .join("a_CloudTrace_eu-de_2024-05-03T10-20-00Z_aa.json");
    std::fs::write(
        &file,
        format!(
            r#"[{{"trace_id":"mine","resource_url":"/v2/{ours}/servers/1"}},
               {{"trace_id":"theirs","resource_url":"/v2/{other}/servers/1"}},
               {{"trace_id":"no-url ü"}}, 7]"#
        ),
    )
    .expect("write");
    let broken = dir
        .path()
        .join("b_CloudTrace_eu-de_2024-05-03T10-25-00Z_bb.json");
    std::fs::write(&broken, "[{\"trace_id\":\"half\"}, {").expect("write");
    let (_stop, mut shutdown) = tokio::sync::watch::channel(false);
    let mut d = Collect::new();
    let (ended, read) = from_archive(
        vec![file.clone(), broken.clone()],
        ours.to_uppercase(),
        &mut d,
        &mut shutdown,
    )
    .await
    .expect("read");
    assert_eq!(ended, Ended::Done);
    d.ids.sort();
    assert_eq!(d.ids, vec!["half", "mine", "no-url ü"]);
    assert_eq!((read.foreign, read.bad), (1, 1));
    assert_eq!(read.foreign_files, vec![(file, other.to_string(), 1)]);
    assert_eq!(read.failed.len(), 1);
    assert_eq!(read.failed[0].0, broken);
}

#[tokio::test]
async fn an_undecodable_trace_read_by_every_window_is_handed_out_once() {
    let now = now_ms();
    let source = Scripted::with(&[("a", now - 10_000)]);
    let raw = r#"{"trace_id":"bad ü","time":"yesterday"}"#;
    *source.undecodable.lock().expect("lock") = Some(cts_client::UndecodableTrace {
        index: 1,
        trace_id: Some("bad ü".into()),
        service_type: None,
        trace_name: None,
        error: "time: not a number".into(),
        raw: raw.into(),
    });
    let mut f = Follower::start("k", Arc::clone(&source), None::<FileCheckpoint>, options())
        .await
        .expect("start");
    let (mut traces, mut bad) = (0, Vec::new());
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(500), f.next()).await {
        match item.expect("no fatal error") {
            Followed::Trace(d) => {
                traces += 1;
                d.ack();
            }
            Followed::Undecodable(u) => bad.push(u.raw),
        }
    }
    f.stop().await.expect("stop");
    assert!(source.windows().len() >= 3, "several windows re-read it");
    assert_eq!((traces, bad), (1, vec![raw.to_string()]));
}
