//! `cts-exporter backfill`: a past range from the API, and archive files.

use std::collections::HashSet;
use std::time::Duration;

use cts_emulator::{ArchiveLayout, ArchiveOptions, AuthKind};

use crate::support::exporter::Exporter;
use crate::support::sink::TestSink;
use crate::support::world::{env_with, history, World};

const LONG: Duration = Duration::from_secs(120);

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_from_the_api_sends_exactly_the_range() {
    let world = World::start(
        history(600, Duration::from_secs(3 * 3600)),
        AuthKind::Password,
    )
    .await;
    let sink = TestSink::start().await;
    let now = chrono::Utc::now().timestamp_millis();
    let (since, until) = (now - 2 * 3_600_000, now - 3_600_000);
    let env = env_with(world.env(&sink.url()), &[("CTS_MAX_WINDOW_SECS", "900")]);
    let args = [
        "backfill",
        "--since",
        &rfc3339(since),
        "--until",
        &rfc3339(until),
        "--progress-secs",
        "1",
    ];
    let done = Exporter::spawn(&args, &env, world.cwd()).wait(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    let expected: HashSet<String> = world
        .all_traces()
        .await
        .into_values()
        .filter(|t| t.time.is_some_and(|x| since <= x && x < until))
        .filter_map(|t| t.trace_id)
        .collect();
    assert!(
        expected.len() > 100,
        "the range holds traces: {}",
        expected.len()
    );
    let accepted = sink.accepted();
    assert_eq!(accepted.keys().cloned().collect::<HashSet<_>>(), expected);
    assert!(accepted.values().all(|n| *n == 1));
    let summary = format!("{} acknowledged, 0 refused", expected.len());
    assert!(
        done.stderr.contains("backfill done") && done.stderr.contains(&summary),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_from_archive_files_reads_every_layout_once() {
    let world = World::start(history(500, Duration::from_secs(3600)), AuthKind::Password).await;
    let (_, project_id) = world.project();
    let sink = TestSink::start().await;
    let archive = world.path("bucket");
    let layouts = [
        ("gz-array", ArchiveLayout::JsonArray, true),
        ("plain-ndjson", ArchiveLayout::Ndjson, false),
        ("gz-wrapped", ArchiveLayout::TracesObject, true),
    ];
    for (sub, layout, gzip) in layouts {
        let opts = ArchiveOptions {
            layout,
            gzip,
            ..ArchiveOptions::default()
        };
        let written = world
            .emu
            .write_archives(&archive.join(sub), &opts)
            .expect("archives");
        assert_eq!(written.trace_count, 500);
    }
    // A digest file is not a trace file and must be skipped, not reported.
    let digest = archive.join("gz-array/CloudTraces/eu-de/2024/5/3/system/Digest/ECS");
    std::fs::create_dir_all(&digest).expect("mkdir");
    std::fs::write(
        digest.join("cts_CloudTrace-Digest_eu-de_2024-05-03T10-00-00Z.json.gz"),
        b"not gzip",
    )
    .expect("write");

    let env = world.env(&sink.url());
    let args = [
        "backfill",
        "--archive-dir",
        archive.to_str().expect("utf-8"),
    ];
    let done = Exporter::spawn(&args, &env, world.cwd()).wait(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let visible: HashSet<String> = world
        .emu
        .visible_trace_ids(&project_id)
        .into_iter()
        .collect();
    let accepted = sink.accepted();
    assert_eq!(accepted.keys().cloned().collect::<HashSet<_>>(), visible);
    assert!(
        accepted.values().all(|n| *n == 1),
        "the three copies are de-duplicated"
    );
    assert!(
        done.stderr.contains("1500 traces read") && done.stderr.contains("1000 duplicates skipped"),
        "{}",
        done.stderr
    );
    // The events are the same (source, id) the poller would send.
    let ev = &sink.received()[0].event;
    assert!(cloudevents::AttributesReader::source(ev)
        .to_string()
        .contains(&project_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_archive_file_is_reported_and_the_rest_is_sent() {
    let world = World::start(history(100, Duration::from_secs(3600)), AuthKind::Password).await;
    let sink = TestSink::start().await;
    let archive = world.path("bucket");
    world
        .emu
        .write_archives(&archive, &ArchiveOptions::default())
        .expect("archives");
    let broken = archive.join("broken_CloudTrace_eu-de_2024-05-03T10-00-00Z_ff.json");
    std::fs::write(&broken, r#"[{"trace_id": "#).expect("write");
    let env = world.env(&sink.url());
    let args = [
        "backfill",
        "--archive-dir",
        archive.to_str().expect("utf-8"),
    ];
    let done = Exporter::spawn(&args, &env, world.cwd()).wait(LONG).await;
    assert_eq!(done.code, Some(70), "{}", done.stderr);
    assert_eq!(sink.accepted().len(), 100);
    assert!(
        done.stderr.contains("1 unreadable") && done.stderr.contains("broken_CloudTrace"),
        "{}",
        done.stderr
    );
}
