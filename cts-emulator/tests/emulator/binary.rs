//! The `cts-emulator` binary: flags, printed URLs, clouds.yaml, SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_cts-emulator");

#[test]
fn version_flag() {
    let out = Command::new(BIN).arg("--version").output().expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_flag_values_are_config_errors() {
    let out = Command::new(BIN)
        .args(["--projects", "nonsense", "--history", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(78));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`projects`") && err.contains("eu-de_app1"),
        "{err}"
    );
}

#[test]
fn unknown_flags_and_unparsable_values_exit_78_help_exits_0() {
    for args in [
        &["--no-such-flag"][..],
        &["--port", "not-a-port"],
        &["--shape", "weird"],
        &["--history", "-1"],
        &["--port", "七"],
    ] {
        let out = Command::new(BIN).args(args).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {err}");
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
    let help = Command::new(BIN).arg("--help").output().expect("run");
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("--port"));
    let version = Command::new(BIN).arg("-V").output().expect("run");
    assert_eq!(version.status.code(), Some(0));
}

#[tokio::test]
async fn serves_prints_urls_writes_clouds_yaml_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clouds = dir.path().join("clouds.yaml");
    let archives = dir.path().join("archive");
    let mut child = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--seed",
            "5",
            "--history",
            "50",
            "--history-span-secs",
            "3600",
        ])
        .arg("--clouds-yaml")
        .arg(&clouds)
        .arg("--archive-dir")
        .arg(&archives)
        .env("CTS_EMULATOR_PROJECTS", "eu-de_x,eu-de_y")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let done = line.contains("archives");
        printed.push(line);
        if done {
            break;
        }
    }
    let text = printed.join("\n");
    let base = printed
        .iter()
        .find_map(|l| l.strip_prefix("  base URL : "))
        .expect("base URL printed")
        .to_owned();
    assert!(
        text.contains("IAM URL  : ") && text.contains("eu-de_y") && text.contains("AK / SK"),
        "{text}"
    );
    assert!(text.contains("100 traces"), "{text}");
    let yaml = std::fs::read_to_string(&clouds).expect("clouds.yaml");
    assert!(yaml.contains(&format!("{base}v3")) && yaml.contains("eu-de_x"));
    let r = reqwest::get(format!("{base}_emulator/truth?project_id=eu-de_y"))
        .await
        .expect("get");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["visible_count"], 50);

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill")
        .success());
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(waited < Duration::from_secs(10), "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
        waited += Duration::from_millis(50);
    };
    assert!(status.success(), "{status:?}");
}
