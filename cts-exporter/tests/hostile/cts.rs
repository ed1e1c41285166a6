//! CTS answers that are broken: each is named in a warning, the window is
//! polled again (with back-off), and polling recovers once CTS answers
//! properly; nothing is delivered twice and the process never panics.
//! A single unreadable trace in a good page is not a broken answer: the
//! page's other traces are delivered and that one is reported and kept.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::fake::{page, traces_in, Answer, FakeCloud, Script, CLOUD};
use crate::support::exporter::{get, metric, Exporter, Finished};
use crate::support::sink::TestSink;

const LONG: Duration = Duration::from_secs(120);

struct Run {
    cloud: FakeCloud,
    sink: TestSink,
    exporter: Exporter,
    _dir: tempfile::TempDir,
}

async fn start(script: Script) -> Run {
    start_with(script, &[]).await
}

/// [`start`] with more (or overriding) environment variables.
async fn start_with(script: Script, extra: &[(&str, &str)]) -> Run {
    let cloud = FakeCloud::start(script).await;
    let sink = TestSink::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let clouds = dir.path().join("clouds.yaml");
    std::fs::write(&clouds, cloud.clouds_yaml()).expect("write clouds.yaml");
    let env: Vec<(String, String)> = [
        ("OS_CLIENT_CONFIG_FILE", clouds.display().to_string()),
        ("HOME", dir.path().display().to_string()),
        ("OS_CLOUD", CLOUD.to_string()),
        ("K_SINK", sink.url()),
        (
            "K_OIDC_TOKEN_FILE",
            dir.path().join("no-token").display().to_string(),
        ),
        ("CTS_METRICS_ADDR", "off".to_string()),
        ("CTS_FROM", "5".to_string()),
        ("CTS_POLL_INTERVAL_SECS", "1".to_string()),
        ("CTS_RETRY_INITIAL_MS", "50".to_string()),
        ("CTS_RETRY_MAX_MS", "500".to_string()),
        ("CTS_SHUTDOWN_GRACE_SECS", "3".to_string()),
    ]
    .into_iter()
    .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
    .map(|(k, v)| (k.to_string(), v))
    .chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    .collect();
    let exporter = Exporter::spawn(&[], &env, dir.path());
    Run {
        cloud,
        sink,
        exporter,
        _dir: dir,
    }
}

/// Waits until `done` holds, failing with the exporter's log.
async fn wait(run: &Run, what: &str, done: impl Fn(&Run) -> bool) {
    let start = Instant::now();
    while !done(run) {
        assert!(
            start.elapsed() < LONG,
            "timed out waiting for {what}; stderr:\n{}",
            run.exporter.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn good(prefix: &'static str, n: usize) -> Script {
    Arc::new(move |q: &HashMap<String, String>| page(traces_in(q, prefix, n), None))
}

fn assert_clean(done: &Finished) {
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_answers_are_named_polled_again_and_polling_recovers() {
    let trace = |extra: serde_json::Value| {
        let mut t = json!({"trace_id": "broken-0", "trace_name": "x", "time": 1});
        for (k, v) in extra.as_object().expect("object") {
            t[k] = v.clone();
        }
        t
    };
    let truncated = json!({"traces": [trace(json!({}))], "meta_data": {"count": 1}}).to_string();
    let cases: Vec<(&str, Answer, &[&str])> = vec![
        (
            "truncated JSON",
            Answer::raw(
                200,
                "application/json",
                truncated[..truncated.len() / 2].into(),
            ),
            &["cut off (truncated JSON)"],
        ),
        (
            "HTML with 200",
            Answer::raw(
                200,
                "text/html",
                b"<!DOCTYPE html><html><body>Please log in</body></html>".to_vec(),
            ),
            &[
                "expected JSON but got HTML",
                "a proxy, gateway or login page answered",
            ],
        ),
        (
            "HTML with 200 and a JSON content type",
            Answer::raw(
                200,
                "application/json",
                b"<html>maintenance</html>".to_vec(),
            ),
            &["expected JSON but got HTML"],
        ),
        (
            "traces that is not a list",
            Answer::json(&json!({"traces": "none", "meta_data": {"count": 0}})),
            &["`traces` must be an array"],
        ),
        (
            "no traces field",
            Answer::json(&json!({"meta_data": {"count": 0}})),
            &["no `traces` field"],
        ),
        (
            "an empty body",
            Answer::raw(200, "application/json", Vec::new()),
            &["the body is empty"],
        ),
    ];
    for (name, answer, needles) in cases {
        let broken: Script = Arc::new(move |_| answer.clone());
        let run = start(broken).await;
        wait(&run, "the problem to be logged twice (a retry)", |r| {
            r.exporter
                .stderr()
                .matches("polling CTS failed; polling the window again")
                .count()
                >= 2
        })
        .await;
        let log = run.exporter.stderr();
        for needle in needles {
            assert!(log.contains(needle), "{name}: {needle:?} not in:\n{log}");
        }
        assert!(run.cloud.requests().len() >= 2, "{name}: polled again");
        assert!(run.sink.received().is_empty(), "{name}: nothing delivered");
        run.cloud.switch(good("recovered", 5));
        wait(&run, "the traces after recovery", |r| {
            r.sink.accepted().len() == 5
        })
        .await;
        let Run { sink, exporter, .. } = run;
        let done = exporter.terminate(LONG).await;
        assert_clean(&done);
        assert!(
            sink.accepted().values().all(|n| *n == 1),
            "{name}: each trace delivered once: {:?}",
            sink.accepted()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marker_loop_is_named_and_each_trace_is_delivered_once() {
    // Page 1 points to m1; the page at m1 points to m1 again.
    let looping: Script = Arc::new(|q: &HashMap<String, String>| match q.get("next") {
        None => page(traces_in(q, "first", 3), Some("m1")),
        Some(_) => page(traces_in(q, "second", 3), Some("m1")),
    });
    let run = start(looping).await;
    wait(&run, "the loop to be named twice", |r| {
        r.exporter.stderr().matches("pagination loops").count() >= 2
    })
    .await;
    let log = run.exporter.stderr();
    assert!(log.contains("\"m1\""), "names the marker: {log}");
    // Both pages are delivered: cts-client yields the page that repeats the
    // marker before the loop error, and the window is polled again with
    // back-off (re-fetched traces are dropped as duplicates).
    wait(&run, "the six traces of both pages", |r| {
        r.sink.accepted().len() == 6
    })
    .await;
    let pages = run.cloud.requests().len();
    assert!(pages >= 4, "the window was polled again: {pages} requests");
    // The walk stops at the loop: two requests per attempt, never more.
    let first_pages = run
        .cloud
        .requests()
        .iter()
        .filter(|q| !q.contains_key("next"))
        .count();
    assert!(
        pages <= 2 * first_pages,
        "{pages} requests for {first_pages} walks"
    );
    // CTS fixed: the last page has no marker; polling goes on.
    run.cloud.switch(Arc::new(|q: &HashMap<String, String>| {
        match q.get("next") {
            None => page(traces_in(q, "first", 3), Some("m1")),
            Some(_) => page(traces_in(q, "second", 3), None),
        }
    }));
    let before = run.cloud.requests().len();
    wait(&run, "more polls after the fix", |r| {
        r.cloud.requests().len() > before + 4
    })
    .await;
    let Run { sink, exporter, .. } = run;
    let done = exporter.terminate(LONG).await;
    assert_clean(&done);
    let accepted = sink.accepted();
    assert_eq!(accepted.len(), 6, "{accepted:?}");
    assert!(
        accepted.values().all(|n| *n == 1),
        "delivered once: {accepted:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_ten_thousand_traces_is_delivered_whole() {
    // The exporter asks for 200 per page; this CTS sends 10,000 at once.
    let run = start(good("big", 10_000)).await;
    wait(&run, "all 10,000 traces", |r| {
        r.sink.accepted().len() == 10_000
    })
    .await;
    let asked: Vec<_> = run
        .cloud
        .requests()
        .iter()
        .filter_map(|q| q.get("limit").cloned())
        .collect();
    assert!(asked.iter().all(|l| l == "200"), "{asked:?}");
    let Run { sink, exporter, .. } = run;
    let done = exporter.terminate(LONG).await;
    assert_clean(&done);
    assert!(
        sink.accepted().values().all(|n| *n == 1),
        "each trace delivered once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_trace_is_reported_and_kept_and_the_rest_moves_on() {
    // Every answer: 3 good traces, one with "time": "yesterday", one with
    // "user": 42, inside the window asked for.
    let script: Script = Arc::new(|q: &HashMap<String, String>| {
        let mut traces = traces_in(q, "good", 5);
        if traces.len() == 5 {
            traces[1]["time"] = json!("yesterday");
            traces[3]["user"] = json!(42);
        }
        page(traces, None)
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let dead = dir.path().join("dead.ndjson");
    let dead_text = dead.display().to_string();
    let mut run = start_with(
        Arc::clone(&script),
        &[
            ("CTS_DEAD_LETTER_FILE", &dead_text),
            ("CTS_METRICS_ADDR", "127.0.0.1:0"),
        ],
    )
    .await;
    let ops = run.exporter.ops_addr().await;
    wait(&run, "the three readable traces", |r| {
        r.sink.accepted().len() == 3
    })
    .await;
    // Several more polls: overlapping windows read the bad traces again.
    let before = run.cloud.requests().len();
    wait(&run, "more polls", |r| {
        r.cloud.requests().len() > before + 3
    })
    .await;
    let (_, text) = get(ops, "/metrics").await;
    assert_eq!(
        metric(&text, "cts_exporter_traces_undecodable_total"),
        2.0,
        "each unreadable trace counted once: {text}"
    );
    assert_eq!(
        metric(&text, "cts_exporter_poll_errors_total"),
        0.0,
        "{text}"
    );
    assert!(
        text.contains("cts_exporter_lag_seconds{"),
        "the watermark moved: {text}"
    );
    let Run { sink, exporter, .. } = run;
    let done = exporter.terminate(LONG).await;
    assert_clean(&done);
    let log = done.stderr;
    assert!(
        !log.contains("polling CTS failed"),
        "the window is not failed for it:\n{log}"
    );
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CTS sent a trace the exporter cannot read"))
        .collect();
    assert_eq!(errors.len(), 2, "logged once each:\n{log}");
    assert!(errors.iter().all(|l| l.contains("ERROR")), "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|l| l.contains("good-1") && l.contains("epoch milliseconds")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|l| l.contains("good-3") && l.contains("ECS")),
        "{errors:#?}"
    );
    assert!(!log.contains(crate::fake::PASSWORD), "no secret in the log");
    let mut ids: Vec<_> = sink.accepted().into_keys().collect();
    ids.sort();
    assert_eq!(ids, ["good-0", "good-2", "good-4"]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .expect("the dead-letter file")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|l| l["id"] == id)
            .unwrap_or_else(|| panic!("{id} in {lines:#?}"))
    };
    assert_eq!(by_id("good-1")["event"]["time"], "yesterday");
    assert_eq!(by_id("good-3")["event"]["user"], 42);
    assert!(by_id("good-3")["reason"]
        .as_str()
        .is_some_and(|r| r.contains("traces[")));

    // A restart with the same dead-letter file reads the same traces again (no state file: the
    // window starts CTS_FROM minutes back) and reports neither of them a second time.
    let mut again = start_with(
        script,
        &[
            ("CTS_DEAD_LETTER_FILE", &dead_text),
            ("CTS_METRICS_ADDR", "127.0.0.1:0"),
        ],
    )
    .await;
    let ops = again.exporter.ops_addr().await;
    wait(&again, "the readable traces again", |r| {
        r.sink.accepted().len() == 3
    })
    .await;
    let before = again.cloud.requests().len();
    wait(&again, "more polls", |r| {
        r.cloud.requests().len() > before + 2
    })
    .await;
    let (_, text) = get(ops, "/metrics").await;
    assert_eq!(
        metric(&text, "cts_exporter_traces_undecodable_total"),
        0.0,
        "already in the dead-letter file: {text}"
    );
    let done = again.exporter.terminate(LONG).await;
    assert_clean(&done);
    assert!(
        !done
            .stderr
            .contains("CTS sent a trace the exporter cannot read;"),
        "reported again after the restart:\n{}",
        done.stderr
    );
    let lines = std::fs::read_to_string(&dead).expect("the dead-letter file");
    assert_eq!(lines.lines().count(), 2, "no new record:\n{lines}");
}
