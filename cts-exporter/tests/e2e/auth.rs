//! Credentials: the AK/SK path, IAM token refresh, the sink's OIDC token.

use std::time::{Duration, Instant};

use cts_emulator::{AuthKind, EmulatorConfig};

use crate::support::exporter::Exporter;
use crate::support::sink::TestSink;
use crate::support::world::{env_with, World};

const LONG: Duration = Duration::from_secs(60);

fn live(history: usize) -> EmulatorConfig {
    EmulatorConfig {
        history_count: history,
        history_span: Duration::from_secs(300),
        live_rate_per_sec: 20.0,
        ..EmulatorConfig::default()
    }
}

fn bearer(r: &crate::support::sink::Received) -> Option<String> {
    r.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aksk_signing_works_and_a_rotated_oidc_token_is_picked_up() {
    let world = World::start(live(50), AuthKind::AkSk).await;
    let sink = TestSink::start().await;
    let token = world.path("oidc-token");
    std::fs::write(&token, "token-one\n").expect("write token");
    let env = env_with(
        world.env(&sink.url()),
        &[
            ("CTS_FROM", "10"),
            ("CTS_POLL_INTERVAL_SECS", "1"),
            ("K_OIDC_TOKEN_FILE", token.to_str().expect("utf-8")),
        ],
    );
    let exporter = Exporter::spawn(&[], &env, world.cwd());
    sink.wait_until(LONG, "the history via AK/SK", |s| s.accepted().len() >= 50)
        .await;
    assert!(sink
        .received()
        .iter()
        .all(|r| bearer(r).as_deref() == Some("Bearer token-one")));

    std::fs::write(&token, "token-two").expect("rotate token");
    let rotated = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = sink.received().len();
    sink.wait_until(LONG, "live traces after the rotation", |s| {
        s.received().len() > before + 10
    })
    .await;
    let late: Vec<_> = sink
        .received()
        .into_iter()
        .filter(|r| r.at > rotated + Duration::from_millis(1200))
        .collect();
    assert!(!late.is_empty());
    assert!(
        late.iter()
            .all(|r| bearer(r).as_deref() == Some("Bearer token-two")),
        "the new token is used within a second or so"
    );
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    assert!(
        !done.stderr.contains("token-one") && !done.stderr.contains("token-two"),
        "tokens never logged"
    );
    let sk = world.emu.credentials().sk.expose().to_string();
    assert!(!done.stderr.contains(&sk), "the secret key never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_iam_token_is_refreshed_while_polling() {
    let cfg = EmulatorConfig {
        token_ttl: Duration::from_secs(4),
        ..live(0)
    };
    let world = World::start(cfg, AuthKind::Password).await;
    let sink = TestSink::start().await;
    let env = env_with(
        world.env(&sink.url()),
        &[("CTS_FROM", "1"), ("CTS_POLL_INTERVAL_SECS", "1")],
    );
    let exporter = Exporter::spawn(&[], &env, world.cwd());
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    // Events keep arriving well after the first token (4 s) expired.
    let recent = sink
        .received()
        .into_iter()
        .filter(|r| r.at > start + Duration::from_secs(8))
        .count();
    assert!(recent > 0, "no events in the last 2 s of a 10 s run");
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let password = world.emu.credentials().password.expose().to_string();
    assert!(
        !done.stderr.contains(&password),
        "the password never logged"
    );
}
