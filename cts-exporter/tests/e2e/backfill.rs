//! `cts-exporter backfill`: a past range from the API, and archive files.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
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

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The events printed on stdout by a dry run, by id (each once, or the test fails).
fn printed(stdout: &str) -> HashMap<String, serde_json::Value> {
    let mut out = HashMap::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let ev: serde_json::Value = serde_json::from_str(line).expect("one JSON event per line");
        let id = ev["id"].as_str().expect("id").to_string();
        assert!(out.insert(id.clone(), ev).is_none(), "{id} printed twice");
    }
    out
}

/// Digest files in both documented places (with and without the tracker folder).
fn add_digests(root: &Path) {
    for d in [
        "CloudTraces/eu-de/2024/5/3/system/Digest/ECS",
        "CloudTraces/eu-de/2024/5/3/Digest/ECS",
    ] {
        let dir = root.join(d);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("tGPYa_CloudTrace-Digest_eu-de_2024-05-03T10-12-10Z.json.gz"),
            b"{\"project_id\": \"not a trace\"}",
        )
        .expect("write digest");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_of_an_archive_needs_no_configuration_beyond_the_directory() {
    let world = World::start(history(300, Duration::from_secs(3600)), AuthKind::Password).await;
    let (_, project_id) = world.project();
    let archive = world.path("bucket");
    // The same traces twice (OBS transfers at least once): printed once.
    for (sub, gzip) in [("a", true), ("b", false)] {
        let opts = ArchiveOptions {
            gzip,
            ..ArchiveOptions::default()
        };
        let written = world
            .emu
            .write_archives(&archive.join(sub), &opts)
            .expect("archives");
        assert!(written.files[0]
            .to_string_lossy()
            .contains("/CloudTraces/eu-de/"));
        assert!(written.files[0]
            .to_string_lossy()
            .contains("_CloudTrace_eu-de-demo_"));
    }
    add_digests(&archive.join("a"));
    // No clouds.yaml anywhere: an empty working directory, no HOME, no OS_CLOUD, no K_SINK.
    let empty = tempfile::tempdir().expect("tempdir");
    let env = vec![("CTS_X_PNP".to_string(), "false".to_string())];
    let args = [
        "backfill",
        "--archive-dir",
        archive.to_str().expect("utf-8"),
    ];
    let done = Exporter::spawn(&args, &env, empty.path()).wait(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    let events = printed(&done.stdout);
    let visible: HashSet<String> = world
        .emu
        .visible_trace_ids(&project_id)
        .into_iter()
        .collect();
    assert_eq!(visible.len(), 300);
    assert_eq!(events.keys().cloned().collect::<HashSet<_>>(), visible);
    let domain = world.emu.domain().id;
    let source =
        format!("https://cts.eu-de.otc.t-systems.com/projects/{project_id}/trackers/system");
    for ev in events.values() {
        assert_eq!(ev["project"], project_id.as_str(), "{ev}");
        assert_eq!(ev["region"], "eu-de", "{ev}");
        assert_eq!(ev["tracker"], "system", "{ev}");
        assert_eq!(ev["source"], source.as_str(), "{ev}");
        assert_eq!(ev["domain"], domain.as_str(), "{ev}");
    }
    assert!(
        done.stderr.contains("600 traces read")
            && done.stderr.contains("300 duplicates skipped")
            && done.stderr.contains("2 skipped (digest"),
        "{}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_give_region_and_project_and_the_sink_gets_events_without_iam() {
    let world = World::start(history(200, Duration::from_secs(3600)), AuthKind::Password).await;
    let (_, project_id) = world.project();
    let sink = TestSink::start().await;
    let layout = world.path("layout");
    world
        .emu
        .write_archives(&layout, &ArchiveOptions::default())
        .expect("archives");
    // Downloaded without the OBS folders: the path no longer tells the region.
    let flat = world.path("flat");
    std::fs::create_dir_all(&flat).expect("mkdir");
    for f in files_under(&layout) {
        std::fs::copy(&f, flat.join(f.file_name().expect("name"))).expect("copy");
    }
    let env = world.env(&sink.url());
    // IAM and CTS are gone: any call to them would fail the backfill.
    let World { emu, dir, .. } = world;
    let visible: HashSet<String> = emu.visible_trace_ids(&project_id).into_iter().collect();
    emu.shutdown().await;
    let flat_arg = flat.to_str().expect("utf-8");

    let done = Exporter::spawn(&["backfill", "--archive-dir", flat_arg], &env, dir.path())
        .wait(LONG)
        .await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("CTS_BACKFILL_REGION (--region)"),
        "{}",
        done.stderr
    );

    let args = [
        "backfill",
        "--archive-dir",
        flat_arg,
        "--region",
        "eu-de",
        "--project-id",
        &project_id,
    ];
    let done = Exporter::spawn(&args, &env, dir.path()).wait(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let accepted = sink.accepted();
    assert_eq!(accepted.keys().cloned().collect::<HashSet<_>>(), visible);
    assert!(accepted.values().all(|n| *n == 1));
    let ev = &sink.received()[0].event;
    assert_eq!(
        cloudevents::AttributesReader::source(ev).to_string(),
        format!("https://cts.eu-de.otc.t-systems.com/projects/{project_id}/trackers/system")
    );

    // A project id that the traces contradict: nothing is sent under it.
    let other = "0123456789abcdef0123456789abcdef";
    let env = env_with(
        env,
        &[
            ("CTS_BACKFILL_PROJECT_ID", other),
            ("CTS_BACKFILL_REGION", "eu-de"),
        ],
    );
    let before = sink.received().len();
    let done = Exporter::spawn(&["backfill", "--archive-dir", flat_arg], &env, dir.path())
        .wait(LONG)
        .await;
    assert_eq!(done.code, Some(70), "{}", done.stderr);
    assert!(
        done.stderr.contains("traces of another project"),
        "{}",
        done.stderr
    );
    let resent: Vec<_> = sink.received()[before..]
        .iter()
        .filter(|r| {
            r.event
                .extension("project")
                .is_some_and(|p| p.to_string() == other)
        })
        .map(|r| r.event.clone())
        .collect();
    assert!(resent.len() < visible.len(), "{} sent", resent.len());
    for e in &resent {
        let d: serde_json::Value = match e.data() {
            Some(cloudevents::Data::Json(v)) => v.clone(),
            Some(cloudevents::Data::Binary(b)) => serde_json::from_slice(b).expect("JSON data"),
            other => panic!("JSON data: {other:?}"),
        };
        let url = d["resource_url"].as_str().unwrap_or_default();
        assert!(
            !url.contains(&project_id),
            "sent under the wrong project: {url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_that_mixes_regions_is_refused_naming_both() {
    let world = World::start(history(50, Duration::from_secs(3600)), AuthKind::Password).await;
    let archive = world.path("bucket");
    let written = world
        .emu
        .write_archives(&archive, &ArchiveOptions::default())
        .expect("archives");
    let nl = archive.join("CloudTraces/eu-nl/2024/5/3/system/ECS");
    std::fs::create_dir_all(&nl).expect("mkdir");
    std::fs::copy(
        &written.files[0],
        nl.join("cts_CloudTrace_eu-nl_2024-05-03T10-05-17Z_0faa86bc40071242.json.gz"),
    )
    .expect("copy");
    let empty = tempfile::tempdir().expect("tempdir");
    let env = vec![("CTS_X_PNP".to_string(), "false".to_string())];
    let args = [
        "backfill",
        "--archive-dir",
        archive.to_str().expect("utf-8"),
    ];
    let done = Exporter::spawn(&args, &env, empty.path()).wait(LONG).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("mixes regions \"eu-de\"")
            && done.stderr.contains("\"eu-nl\"")
            && done.stderr.contains("separately"),
        "{}",
        done.stderr
    );
    assert!(done.stdout.is_empty(), "nothing printed: {}", done.stdout);
    std::fs::remove_dir_all(archive.join("CloudTraces/eu-nl")).expect("rm");
    // Two trackers, or two projects in the file names, are refused the same way.
    let de = archive.join("CloudTraces/eu-de");
    let name = written.files[0].file_name().expect("name").to_owned();
    let copies = [
        (
            "2024/5/3/audit-trk/ECS",
            name.to_string_lossy().into_owned(),
            "mixes trackers \"audit-trk\"",
        ),
        (
            "2024/5/3/system/ECS",
            "cts_CloudTrace_eu-de-other_2024-05-03T10-05-17Z_0faa86bc40071242.json.gz".to_string(),
            "\"demo\"",
        ),
    ];
    for (sub, file, says) in copies {
        let d = de.join(sub);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::copy(&written.files[0], d.join(&file)).expect("copy");
        let done = Exporter::spawn(&args, &env, empty.path()).wait(LONG).await;
        assert_eq!(done.code, Some(78), "{}", done.stderr);
        assert!(done.stderr.contains(says), "{says}: {}", done.stderr);
        std::fs::remove_file(d.join(&file)).expect("rm");
    }
    // One region's folder at a time works.
    let de = archive.join("CloudTraces/eu-de");
    let args = ["backfill", "--archive-dir", de.to_str().expect("utf-8")];
    let done = Exporter::spawn(&args, &env, empty.path()).wait(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(printed(&done.stdout).len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_name_without_credentials_asks_for_the_project_id_flag() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("CloudTraces/eu-de/2024/5/3/Ärger-trk/IAM");
    std::fs::create_dir_all(&dir).expect("mkdir");
    // Login traces carry no project id in their resource_url.
    let traces = r#"[
        {"trace_id": "t-1", "trace_name": "login", "service_type": "IAM", "resource_url": "/v3/auth/tokens", "time": 1714730000000},
        {"trace_id": "t-2", "trace_name": "logout", "service_type": "IAM", "resource_url": "", "time": 1714730001000},
        {"trace_id": "t-1", "trace_name": "login", "service_type": "IAM", "resource_url": "/v3/auth/tokens", "time": 1714730000000}
    ]"#;
    std::fs::write(
        dir.join("cts_CloudTrace_eu-de-demo_2024-05-03T10-05-17Z_0faa86bc40071242.json"),
        traces,
    )
    .expect("write");
    let archive = root.path().to_str().expect("utf-8");
    let empty = tempfile::tempdir().expect("tempdir");
    let env = vec![("CTS_X_PNP".to_string(), "false".to_string())];
    let done = Exporter::spawn(&["backfill", "--archive-dir", archive], &env, empty.path())
        .wait(LONG)
        .await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("CTS_BACKFILL_PROJECT_ID (--project-id)")
            && done.stderr.contains("\"eu-de_demo\""),
        "{}",
        done.stderr
    );
    assert!(done.stdout.is_empty(), "nothing printed: {}", done.stdout);

    let id = "00112233445566778899aabbccddeeff";
    let args = ["backfill", "--archive-dir", archive, "--project-id", id];
    let done = Exporter::spawn(&args, &env, empty.path()).wait(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let events = printed(&done.stdout);
    assert_eq!(events.len(), 2);
    for ev in events.values() {
        assert_eq!(ev["project"], id);
        assert_eq!(ev["tracker"], "Ärger-trk");
        assert_eq!(ev["region"], "eu-de");
    }

    // A name that is not a project id is refused before anything is read.
    let args = [
        "backfill",
        "--archive-dir",
        archive,
        "--project-id",
        "eu-de_demo",
    ];
    let done = Exporter::spawn(&args, &env, empty.path()).wait(LONG).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(done.stderr.contains("not a project id"), "{}", done.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_name_is_looked_up_in_iam_only_when_credentials_are_there() {
    let world = World::start(history(10, Duration::from_secs(3600)), AuthKind::Password).await;
    let (project_name, project_id) = world.project();
    assert_eq!(project_name, "eu-de_demo");
    let sink = TestSink::start().await;
    let traces = r#"[{"trace_id": "iam-1", "trace_name": "login", "service_type": "IAM", "resource_url": "/v3/auth/tokens"}]"#;
    let write = |root: &Path, token: &str| {
        let dir = root.join("CloudTraces/eu-de/2024/5/3/system/IAM");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join(format!(
                "cts_CloudTrace_{token}_2024-05-03T10-05-17Z_0faa86bc40071242.json"
            )),
            traces,
        )
        .expect("write");
    };
    let named = world.path("named");
    write(&named, "eu-de-demo");
    let env = world.env(&sink.url());
    let args = ["backfill", "--archive-dir", named.to_str().expect("utf-8")];
    let done = Exporter::spawn(&args, &env, world.cwd()).wait(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("asking IAM for the archive's project id"),
        "{}",
        done.stderr
    );
    let got = sink.received();
    assert_eq!(got.len(), 1);
    let ev = &got[0].event;
    assert_eq!(
        ev.extension("project").map(|p| p.to_string()),
        Some(project_id.clone())
    );
    // The catalog's CTS host, as the poller's source.
    let source = cloudevents::AttributesReader::source(ev).to_string();
    assert!(
        source.starts_with("http://127.0.0.1:")
            && source.ends_with(&format!("/projects/{project_id}/trackers/system")),
        "{source}"
    );

    // File names of another project than the cloud's: refused, nothing sent.
    let other = world.path("other");
    write(&other, "eu-de-other");
    let args = ["backfill", "--archive-dir", other.to_str().expect("utf-8")];
    let done = Exporter::spawn(&args, &env, world.cwd()).wait(LONG).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("\"eu-de_other\"")
            && done.stderr.contains("is for project \"eu-de_demo\"")
            && done.stderr.contains("--project-id"),
        "{}",
        done.stderr
    );
    assert_eq!(sink.received().len(), 1);
}
