//! Startup without a usable Neo4j, configuration errors, `--version`, and
//! SIGTERM with a request in flight, the last ones on the real binary.

use crate::common::*;
use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_neo4j-sink");

#[tokio::test]
async fn unreachable_neo4j_is_not_fatal_and_is_explained() {
    // Needs no Neo4j: nothing listens on port 1.
    let env = Env {
        uri: "bolt://127.0.0.1:1".into(),
        user: "neo4j".into(),
        password: "secret-pw-123".into(),
        container: false,
    };
    let sink = TestSink::start(&env, &["--neo4j-connect-timeout-secs=2"]).await;
    let body = wait_not_ready_because(&sink, "NEO4J_URI").await;
    assert_eq!(body["ready"], false);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("127.0.0.1:1")),
        "{body}"
    );
    let run = run_id();
    let r = sink
        .binary(&event(&format!("{run}-early"), &run))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    let text = r.text().await.expect("text");
    assert!(
        text.contains("not_ready") && !text.contains("secret-pw-123"),
        "{text}"
    );
    assert_eq!(
        sink.http
            .get(sink.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
    assert_eq!(sink.stop().await, neo4j_sink::Shutdown::Drained);
}

#[tokio::test]
async fn refused_credentials_are_reported_and_nothing_is_accepted() {
    let Some(real) = env("refused_credentials_are_reported_and_nothing_is_accepted") else {
        return;
    };
    // A user that does not exist: a wrong password for `neo4j` itself could lock
    // that account for the other tests running at the same time.
    let env = Env {
        uri: real.uri.clone(),
        user: "neo4j-sink-test-nobody".into(),
        password: "wrong-password-42".into(),
        container: real.container,
    };
    let sink = TestSink::start(&env, &[]).await;
    let body = wait_not_ready_because(&sink, "NEO4J_PASSWORD").await;
    let error = body["error"].as_str().expect("error");
    assert!(
        error.contains("neo4j-sink-test-nobody") && !error.contains("wrong-password-42"),
        "{body}"
    );
    let run = run_id();
    let id = format!("{run}-refused");
    let r = sink
        .binary(&event(&id, &run))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(actions(&graph(&real), &id).await, 0);
    let m = sink.metrics().await;
    assert!(
        sample(&m, "neo4j_sink_neo4j_errors_total{kind=\"auth\"}") >= 1.0,
        "{m}"
    );
    assert_eq!(sample(&m, "neo4j_sink_ready"), 0.0, "{m}");
    sink.stop().await;
}

#[test]
fn version_flag_prints_the_version() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("neo4j-sink {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn configuration_errors_exit_78_naming_the_setting() {
    type Vars = &'static [(&'static str, &'static str)];
    let cases: [(Vars, &[&str]); 4] = [
        (
            &[("NEO4J_PASSWORD", "pw"), ("PORT", "http")],
            &["PORT", "--port", "\"http\""],
        ),
        (&[], &["NEO4J_PASSWORD"]),
        (
            &[
                ("NEO4J_PASSWORD", "pw"),
                ("NEO4J_URI", "http://localhost:7474"),
            ],
            &["NEO4J_URI", "bolt"],
        ),
        (
            &[("NEO4J_PASSWORD", "pw"), ("OIDC_AUDIENCE", "sink")],
            &["OIDC_ISSUER"],
        ),
    ];
    for (vars, expected) in cases {
        let out = Command::new(BIN)
            .env_clear()
            .envs(vars.iter().copied())
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{vars:?}: {stderr}");
        for e in expected {
            assert!(stderr.contains(e), "{vars:?}: {e} missing in {stderr}");
        }
    }
    let out = Command::new(BIN)
        .env_clear()
        .arg("--no-such-flag")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(78));
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test]
async fn sigterm_answers_the_request_in_flight_and_exits_0() {
    let Some(env) = env("sigterm_answers_the_request_in_flight_and_exits_0") else {
        return;
    };
    let port = free_port();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PORT", port.to_string())
        .env("LISTEN_ADDR", "127.0.0.1")
        .env("NEO4J_URI", &env.uri)
        .env("NEO4J_USER", &env.user)
        .env("NEO4J_PASSWORD", &env.password)
        .env("BATCH_MAX_DELAY_MS", "1500")
        .env("SHUTDOWN_TIMEOUT_SECS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the sink binary did not get ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = run_id();
    let id = format!("{run}-inflight");
    let ev = event(&id, &run);
    let in_flight = {
        let (http, base) = (http.clone(), base.clone());
        tokio::spawn(async move {
            http.post(&base)
                .header("content-type", "application/cloudevents+json")
                .body(serde_json::to_vec(&ev).expect("json"))
                .send()
                .await
                .expect("answered")
                .status()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_eq!(
        in_flight.await.expect("joined"),
        202,
        "the request in flight is committed and answered"
    );
    assert_eq!(actions(&graph(&env), &id).await, 1);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "did not exit within the bound"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0));
    let mut logs = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .expect("logs");
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(
            v.get("level").is_some() && v.get("message").is_some(),
            "{line}"
        );
        assert!(!line.contains(&id), "no per-event log line: {line}");
        assert!(
            !line.contains(&env.password),
            "the password never appears in logs: {line}"
        );
    }
    assert!(logs.contains("shutting down"), "{logs}");
}
