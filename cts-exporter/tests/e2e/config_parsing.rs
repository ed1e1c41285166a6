//! How settings are parsed, seen from outside: the defaults and flag values
//! show in what the running binary does (its events, requests and log
//! lines), and every bad value exits 78 with a message naming its setting.
//! (These were unit tests of the configuration module; they run the built
//! binary now, so the exporter stays a binary.)

use std::collections::HashSet;
use std::time::{Duration, Instant};

use cloudevents::AttributesReader;
use cts_emulator::AuthKind;

use crate::support::exporter::{get, metric, Exporter, Finished};
use crate::support::sink::TestSink;
use crate::support::world::{env_with, history, without, World};

const LONG: Duration = Duration::from_secs(60);

/// Runs the binary with `args` and only HOME set (no clouds.yaml, no K_SINK).
async fn run(args: &[&str], extra_env: &[(&str, &str)]) -> Finished {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = vec![("HOME".to_string(), dir.path().display().to_string())];
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Exporter::spawn(args, &env, dir.path()).wait(LONG).await
}

/// The exporter's one-line error, asserting exit 78 and no panic.
fn config_error(what: &str, done: &Finished) -> String {
    assert_eq!(done.code, Some(78), "{what}: {}", done.stderr);
    assert!(!done.stderr.contains("panicked"), "{what}: {}", done.stderr);
    let line = done
        .stderr
        .lines()
        .rfind(|l| l.starts_with("cts-exporter: "))
        .unwrap_or_else(|| panic!("{what}: no error line in {}", done.stderr));
    line.trim_start_matches("cts-exporter: configuration error: ")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_value_names_its_setting() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "K_SINK"),
        (&["--sink", "not a url"], "K_SINK"),
        (&["--sink", "ftp://x"], "K_SINK"),
        (&["--sink", "http://s", "--from", "0"], "CTS_FROM"),
        (&["--sink", "http://s", "--from", "10801"], "CTS_FROM"),
        (&["--sink", "http://s", "--from", "five"], "CTS_FROM"),
        (&["--sink", "http://s", "--x-pnp", "maybe"], "CTS_X_PNP"),
        (&["--sink", "http://s", "--debug", "sure"], "OS_DEBUG"),
        (
            &["--sink", "http://s", "--ce-overrides", "{bad"],
            "K_CE_OVERRIDES",
        ),
        (
            &["--sink", "http://s", "--api-version", "v4"],
            "CTS_API_VERSION",
        ),
        (&["--sink", "http://s", "--rating", "bad"], "CTS_RATING"),
        (&["--sink", "http://s", "--tracker", "a/b"], "CTS_TRACKER"),
        (&["--sink", "http://s", "--cloud", "a,,b"], "OS_CLOUD"),
        (&["--sink", "http://s", "--cloud", "a,a"], "OS_CLOUD"),
        (
            &["--sink", "http://s", "--event-mode", "batch"],
            "CTS_EVENT_MODE",
        ),
        (
            &["--sink", "http://s", "--concurrency", "0"],
            "CTS_DELIVERY_CONCURRENCY",
        ),
        (
            &[
                "--sink",
                "http://s",
                "--retry-initial-ms",
                "500",
                "--retry-max-ms",
                "100",
            ],
            "CTS_RETRY_MAX_MS",
        ),
        (
            &["--sink", "http://s", "--metrics-addr", "localhost"],
            "CTS_METRICS_ADDR",
        ),
        (
            &["--sink", "http://s", "--ca-certs", "/does/not/exist.pem"],
            "K_CA_CERTS",
        ),
        (
            &[
                "--sink",
                "http://s",
                "--ca-certs",
                "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----",
            ],
            "K_CA_CERTS",
        ),
        (
            &["--sink", "http://s", "--page-size", "201"],
            "CTS_PAGE_SIZE",
        ),
        (
            &["--sink", "http://s", "--state-file", "/tmp/dir/"],
            "CTS_STATE_FILE",
        ),
    ];
    for (args, setting) in cases {
        let e = config_error(&format!("{args:?}"), &run(args, &[]).await);
        assert!(e.contains(setting), "{args:?} -> {e}");
        assert!(e.starts_with("invalid "), "{e}");
    }
}

/// Good values pass the configuration: the run stops later, at the missing
/// clouds.yaml, not at the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ca_certs_accepts_pem_text_and_files() {
    let pem = include_str!("../fixtures/ca.pem");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ca.pem");
    for value in [pem, path] {
        let e = config_error(
            "K_CA_CERTS",
            &run(&["--sink", "https://s", "--ca-certs", value], &[]).await,
        );
        assert!(!e.contains("K_CA_CERTS"), "{e}");
        assert!(e.contains("clouds.yaml"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn original_extensions_refuse_a_value_that_is_not_a_boolean() {
    let e = config_error(
        "maybe",
        &run(
            &["--sink", "http://s", "--ce-original-extensions", "maybe"],
            &[],
        )
        .await,
    );
    assert!(
        e.contains("CTS_CE_ORIGINAL_EXTENSIONS (--ce-original-extensions)")
            && e.contains("true or false")
            && e.contains("\"maybe\""),
        "{e}"
    );
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The `name=<number>` field of the first log line containing `message`.
fn field(stderr: &str, message: &str, name: &str) -> i64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(message))
        .unwrap_or_else(|| panic!("no {message:?} line in {stderr}"));
    let at = line.find(&format!("{name}=")).expect("field") + name.len() + 1;
    line[at..]
        .split(|c: char| !c.is_ascii_digit() && c != '-')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_ranges_are_checked_against_retention() {
    let world = World::start(history(5, Duration::from_secs(600)), AuthKind::Password).await;
    let env = env_with(world.env("unused"), &[("CTS_X_PNP", "false")]);
    let env = without(env, &["K_SINK"]);
    let backfill = |args: &[&str]| {
        let mut all = vec!["backfill"];
        all.extend_from_slice(args);
        Exporter::spawn(&all, &env, world.cwd())
    };
    // A valid range runs over exactly that range; --until defaults to now.
    let since = (now_ms() - 3_600_000) / 1000 * 1000;
    let before = now_ms();
    let done = backfill(&["--since", &rfc3339(since)]).wait(LONG).await;
    let after = now_ms();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert_eq!(
        field(&done.stderr, "backfill from the CTS API", "since_ms"),
        since
    );
    let until = field(&done.stderr, "backfill from the CTS API", "until_ms");
    assert!(
        (before..=after).contains(&until),
        "{until} not in {before}..={after}"
    );
    // An --until in the future is cut at now.
    let done = backfill(&[
        "--since",
        &rfc3339(since),
        "--until",
        &rfc3339(after + 86_400_000),
    ])
    .wait(LONG)
    .await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(field(&done.stderr, "backfill from the CTS API", "until_ms") <= now_ms());

    let refused = |done: &Finished| config_error("backfill", done);
    let e = refused(
        &backfill(&["--since", &rfc3339(now_ms() - 8 * 86_400_000)])
            .wait(LONG)
            .await,
    );
    assert!(
        e.contains("CTS_BACKFILL_SINCE") && e.contains("7 days") && e.contains("--archive-dir"),
        "{e}"
    );
    let e = refused(
        &backfill(&[
            "--since",
            &rfc3339(since),
            "--until",
            &rfc3339(since - 3_600_000),
        ])
        .wait(LONG)
        .await,
    );
    assert!(e.contains("CTS_BACKFILL_UNTIL"), "{e}");
    let e = refused(&backfill(&["--since", "yesterday"]).wait(LONG).await);
    assert!(e.contains("RFC 3339"), "{e}");
    let e = refused(&backfill(&[]).wait(LONG).await);
    assert!(e.contains("--archive-dir"), "{e}");
    let e = refused(
        &backfill(&["--archive-dir", "/no/such/dir"])
            .wait(LONG)
            .await,
    );
    assert!(e.contains("CTS_BACKFILL_ARCHIVE_DIR"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_region_and_project_id_are_checked_and_only_for_archives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().to_str().expect("utf-8");
    let dry = [("CTS_X_PNP", "false")];
    let id = "0123456789abcdef0123456789ABCDEF";
    let backfill = |extra: &[&str]| {
        let mut args = vec!["backfill", "--archive-dir", archive];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let go = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&args, &dry).await
    };
    // Valid: the (empty) archive is read under that region and project, without IAM.
    let done = go(backfill(&["--region", "eu-ch2", "--project-id", id])).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("region=eu-ch2"), "{}", done.stderr);
    assert!(
        done.stderr.contains(&format!("project={id}")),
        "{}",
        done.stderr
    );
    // Blank is unset: the region is then unknown (not "not a region name").
    let e = config_error(
        "blank",
        &go(backfill(&["--region", " ", "--project-id", ""])).await,
    );
    assert!(e.contains("CTS_BACKFILL_REGION (--region)"), "{e}");
    assert!(e.contains("no CloudTraces/<region>/ folder"), "{e}");
    for (flag, value, setting, says) in [
        (
            "--region",
            "EU-DE",
            "CTS_BACKFILL_REGION (--region)",
            "not a region",
        ),
        (
            "--region",
            "eu-de/..",
            "CTS_BACKFILL_REGION (--region)",
            "not a region",
        ),
        (
            "--region",
            "ëu-de",
            "CTS_BACKFILL_REGION (--region)",
            "not a region",
        ),
        (
            "--project-id",
            "eu-de_demo",
            "CTS_BACKFILL_PROJECT_ID (--project-id)",
            "not its name",
        ),
        (
            "--project-id",
            "0123456789abcdef0123456789abcdeg",
            "CTS_BACKFILL_PROJECT_ID (--project-id)",
            "not a project id",
        ),
    ] {
        let e = config_error(value, &go(backfill(&[flag, value])).await);
        assert!(e.starts_with(&format!("invalid {setting}: ")), "{e}");
        assert!(e.contains(says), "{e}");
    }
    for (flag, value, setting) in [
        ("--region", "eu-de", "CTS_BACKFILL_REGION (--region)"),
        ("--project-id", id, "CTS_BACKFILL_PROJECT_ID (--project-id)"),
    ] {
        let since = (now_ms() - 3_600_000).to_string();
        let args = ["backfill", "--since", &since, flag, value];
        let e = config_error(value, &run(&args, &dry).await);
        assert!(e.starts_with(&format!("invalid {setting}: ")), "{e}");
        assert!(e.contains("--archive-dir"), "{e}");
    }
}

/// Waits until `n` lines are on stdout, returning them.
async fn lines(exporter: &Exporter, n: usize) -> Vec<serde_json::Value> {
    let start = Instant::now();
    while exporter.stdout().lines().count() < n {
        assert!(start.elapsed() < LONG, "{}", exporter.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    exporter
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is an event"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_match_the_original_exporter() {
    let world = World::start(history(200, Duration::from_secs(600)), AuthKind::Password).await;
    let sink = TestSink::start().await;
    // No OS_CLOUD: the only cloud of clouds.yaml; no CTS_FROM, CTS_TRACKER, ...
    let env = without(world.env(&sink.url()), &["OS_CLOUD"]);
    let started_ms = now_ms();
    let mut exporter = Exporter::spawn(&[], &env, world.cwd());
    let ops = exporter.ops_addr().await;
    // CTS_FROM defaults to 5 minutes: the traces of the last 5 minutes, not older ones.
    let traces = world.all_traces().await;
    let time = |id: &str| traces[id].time.expect("time");
    let recent: HashSet<String> = traces
        .keys()
        .filter(|id| time(id) >= started_ms - 295_000)
        .cloned()
        .collect();
    assert!(recent.len() > 50 && recent.len() < 150, "{}", recent.len());
    sink.wait_until(LONG, "the last 5 minutes at the sink", |s| {
        recent.iter().all(|id| s.accepted().contains_key(id))
    })
    .await;
    let accepted = sink.accepted();
    for id in accepted.keys() {
        assert!(
            time(id) >= now_ms() - 310_000,
            "{id} is older than 5 minutes"
        );
    }
    // Binary mode to K_SINK, tracker `system`.
    let first = &sink.received()[0];
    assert!(first.headers.contains_key("ce-id"), "{:?}", first.headers);
    assert!(
        first
            .event
            .source()
            .to_string()
            .ends_with("/trackers/system"),
        "{}",
        first.event.source()
    );
    assert!(
        !first.headers.contains_key("authorization"),
        "no OIDC token file"
    );
    // CTS_FROM is also the poll interval: no second poll within seconds.
    let polls = || async {
        metric(
            &get(ops, "/metrics").await.1,
            "cts_exporter_poll_duration_seconds_count",
        )
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(polls().await, 1.0);
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(done.stderr.contains("api=v3"), "{}", done.stderr);
    assert!(
        !done.stderr.contains("DEBUG"),
        "debug is off: {}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_are_parsed_into_meaningful_types() {
    let world = World::start(history(300, Duration::from_secs(1200)), AuthKind::Password).await;
    let (cloud, _) = world.project();
    // CTS_METRICS_ADDR stays 127.0.0.1:0 here; the flag --metrics-addr off wins over it below.
    let env = without(world.env("unused"), &["K_SINK", "OS_CLOUD"]);
    // A list of clouds, trimmed: the second one is looked up (and is not there).
    let two = format!("{cloud}, staging");
    let done = Exporter::spawn(&["--cloud", &two, "--x-pnp", "false"], &env, world.cwd())
        .wait(LONG)
        .await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("'staging' not found"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("' staging'"), "{}", done.stderr);

    let flags = [
        "--cloud",
        &cloud,
        "--from",
        "10",
        "--poll-interval-secs",
        "1",
        "--x-pnp",
        "false",
        "--api-version",
        "v2",
        "--rating",
        "Warning",
        "--service",
        "ECS",
        "--metrics-addr",
        "off",
        "--ce-overrides",
        r#"{"extensions":{"team":"ops"}}"#,
        "--debug",
        "true",
    ];
    let started_ms = now_ms();
    let exporter = Exporter::spawn(&flags, &env, world.cwd());
    let traces = world.all_traces().await;
    let want: HashSet<String> = traces
        .iter()
        .filter(|(_, t)| {
            t.time.expect("time") >= started_ms - 595_000
                && t.service_type.as_deref() == Some("ECS")
                && t.trace_rating.as_ref().map(|r| r.as_str()) == Some("warning")
        })
        .map(|(id, _)| id.clone())
        .collect();
    assert!(!want.is_empty(), "the emulator made ECS warnings");
    // --x-pnp false: no sink needed, events on stdout.
    let events = lines(&exporter, want.len()).await;
    for ev in &events {
        let id = ev["id"].as_str().expect("id");
        let t = &traces[id];
        assert!(
            t.time.expect("time") >= now_ms() - 610_000,
            "{id}: --from 10 is 10 minutes"
        );
        assert_eq!(ev["service"], "ECS", "--service");
        assert_eq!(ev["rating"], "warning", "--rating is lower-cased");
        assert_eq!(ev["team"], "ops", "--ce-overrides");
    }
    // Keep polling a few seconds (--poll-interval-secs 1): nothing outside the filters comes.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let ids: HashSet<String> = done
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("event")["id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    assert_eq!(ids, want);
    assert!(done.stderr.contains("api=v2"), "{}", done.stderr);
    assert!(
        done.stderr.contains("DEBUG"),
        "--debug true: {}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("serving /healthz"),
        "--metrics-addr off: {}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn original_extensions_are_off_unless_asked_for() {
    let world = World::start(history(20, Duration::from_secs(600)), AuthKind::Password).await;
    let env = without(
        env_with(
            world.env("unused"),
            &[("CTS_X_PNP", "false"), ("CTS_FROM", "15")],
        ),
        &["K_SINK"],
    );
    for (flags, tenant) in [
        (&[][..], false),
        (&["--ce-original-extensions", "true"][..], true),
    ] {
        let exporter = Exporter::spawn(flags, &env, world.cwd());
        let events = lines(&exporter, 20).await;
        exporter.terminate(LONG).await;
        for ev in events {
            assert_eq!(ev.get("tenant").is_some(), tenant, "{flags:?}: {ev}");
        }
    }
}
