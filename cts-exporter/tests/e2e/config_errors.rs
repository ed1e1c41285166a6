//! Every bad configuration exits 78 with a message naming the setting and
//! the fix; runtime failures exit 70.

use std::path::Path;
use std::time::Duration;

use cts_emulator::AuthKind;

use crate::support::exporter::{Exporter, Finished};
use crate::support::world::{env_with, history, without, World};

const LONG: Duration = Duration::from_secs(60);

async fn run(env: &[(String, String)], cwd: &Path, args: &[&str]) -> Finished {
    Exporter::spawn(args, env, cwd).wait(LONG).await
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_checked_before_any_network_call() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().to_str().expect("utf-8");
    let base = [("HOME", home), ("K_SINK", "http://sink.local")];
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (
            &[("K_CE_OVERRIDES", "{extensions: nope")],
            "K_CE_OVERRIDES",
            "not valid JSON",
        ),
        (
            &[("K_CE_OVERRIDES", r#"{"extensions":{"Bad-Name":"x"}}"#)],
            "K_CE_OVERRIDES",
            "lower-case",
        ),
        (&[("K_SINK", "not a url")], "K_SINK", "is not a URL"),
        (&[("K_SINK", "")], "K_SINK", "CTS_X_PNP=false"),
        (&[("CTS_FROM", "0")], "CTS_FROM", "1 to 10800"),
        (&[("CTS_FROM", "10801")], "CTS_FROM", "1 to 10800"),
        (&[("CTS_X_PNP", "perhaps")], "CTS_X_PNP", "true or false"),
        (
            &[("CTS_API_VERSION", "v9")],
            "CTS_API_VERSION",
            "v3, v2 or v1",
        ),
        (
            &[("CTS_EVENT_MODE", "batched")],
            "CTS_EVENT_MODE",
            "binary or structured",
        ),
        (
            &[("K_CA_CERTS", "/nonexistent/ca.pem")],
            "K_CA_CERTS",
            "cannot read",
        ),
        (
            &[("CTS_METRICS_ADDR", "everywhere")],
            "CTS_METRICS_ADDR",
            "ip:port",
        ),
    ];
    for (extra, setting, fix) in cases {
        let mut env = pairs(&base);
        env = env_with(env, extra);
        let done = run(&env, dir.path(), &[]).await;
        assert_eq!(done.code, Some(78), "{extra:?}: {}", done.stderr);
        assert!(
            done.stderr.contains(setting) && done.stderr.contains(fix),
            "{extra:?}: {}",
            done.stderr
        );
    }
    let done = run(&pairs(&base), dir.path(), &["--no-such-flag"]).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    let done = run(&pairs(&base), dir.path(), &["--help"]).await;
    assert_eq!(done.code, Some(0));
    assert!(
        done.stdout.contains("CTS_FROM") && done.stdout.contains("K_CE_OVERRIDES"),
        "help shows the env vars"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_exit_78_naming_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = pairs(&[
        ("HOME", dir.path().to_str().expect("utf-8")),
        ("K_SINK", "http://sink.local"),
        ("CTS_METRICS_ADDR", "off"),
    ]);
    let done = run(&env, dir.path(), &[]).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("clouds.yaml") && done.stderr.contains("OS_"),
        "{}",
        done.stderr
    );

    std::fs::write(dir.path().join("clouds.yaml"), "clouds:\n  prod:\n    auth:\n      auth_url: https://iam.eu-de.otc.t-systems.com/v3\n      username: alice\n      project_name: eu-de_x\n      user_domain_name: OTC000\n").expect("write");
    let done = run(&env, dir.path(), &[]).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("password"),
        "names the missing field: {}",
        done.stderr
    );

    let env = env_with(env, &[("OS_CLOUD", "staging")]);
    let done = run(&env, dir.path(), &[]).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("staging") && done.stderr.contains("prod"),
        "names the clouds that exist: {}",
        done.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_exits_78_and_a_rejected_password_exits_70() {
    let world = World::start(history(10, Duration::from_secs(600)), AuthKind::Password).await;
    let state = world.path("state.json");
    std::fs::write(&state, "{ half a file").expect("write");
    let env = env_with(
        world.env("http://127.0.0.1:9/"),
        &[("CTS_STATE_FILE", state.to_str().expect("utf-8"))],
    );
    let done = run(&env, world.cwd(), &[]).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("CTS_STATE_FILE") && done.stderr.contains("delete it"),
        "{}",
        done.stderr
    );

    let yaml = world
        .emu
        .clouds_yaml(AuthKind::Password)
        .replace(world.emu.credentials().password.expose(), "wrong-password");
    std::fs::write(world.path("clouds.yaml"), yaml).expect("write");
    let env = without(world.env("http://127.0.0.1:9/"), &[]);
    let done = run(&env, world.cwd(), &[]).await;
    assert_eq!(done.code, Some(70), "{}", done.stderr);
    assert!(
        done.stderr.contains("401") || done.stderr.contains("rejected"),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("wrong-password"),
        "the password never appears"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_unknown_cloud_among_several_stops_the_start() {
    let world = World::start(history(10, Duration::from_secs(600)), AuthKind::Password).await;
    let (cloud, _) = world.project();
    let env = env_with(
        world.env("http://127.0.0.1:9/"),
        &[("OS_CLOUD", &format!("{cloud},nope"))],
    );
    let done = run(&env, world.cwd(), &[]).await;
    assert_eq!(done.code, Some(78), "{}", done.stderr);
    assert!(
        done.stderr.contains("'nope'") && done.stderr.contains(&cloud),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains("no saved state"),
        "no poller started: {}",
        done.stderr
    );
}
