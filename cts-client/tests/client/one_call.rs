//! The documented path, clouds.yaml -> `CtsClient::from_cloud` -> every trace of a window, with
//! `cts_client::Error` as the only error type (otc-auth's errors come through `?`), against the
//! in-process emulator and the clouds.yaml it writes.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use cts_client::{CtsClient, Error, Trace, TraceQuery};
use cts_emulator::{AuthKind, Emulator, EmulatorConfig};
use futures::TryStreamExt;
use otc_auth::{load_cloud, LoadOptions};

/// A directory of its own under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let p =
            std::env::temp_dir().join(format!("cts-client-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).expect("mkdir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The path the README shows, as a function with one error type.
async fn last_two_days(options: &LoadOptions) -> Result<Vec<Trace>, Error> {
    let cloud = load_cloud(options, None)?;
    let client = CtsClient::from_cloud(cloud).await?;
    // One bound a chrono DateTime, the other a SystemTime.
    let from = chrono::Utc::now() - chrono::Duration::days(2);
    let to = SystemTime::now() + Duration::from_secs(60);
    client
        .traces(TraceQuery::new().window(from, to).limit(200))
        .try_collect()
        .await
}

fn options(dir: &TempDir, cloud: &str) -> LoadOptions {
    let mut o = LoadOptions::new(&dir.0, dir.0.join("no-system-dir"));
    o.env.insert("OS_CLOUD".into(), cloud.into());
    o
}

#[tokio::test]
async fn clouds_yaml_to_traces_in_one_error_type() {
    let emu = Emulator::start(
        EmulatorConfig {
            history_count: 450,
            ..EmulatorConfig::default()
        },
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let project = emu.projects().into_iter().next().expect("a project");
    for auth in [AuthKind::Password, AuthKind::AkSk] {
        let dir = TempDir::new("one-call");
        std::fs::write(dir.0.join("clouds.yaml"), emu.clouds_yaml(auth)).expect("write");
        let traces = last_two_days(&options(&dir, &project.name))
            .await
            .unwrap_or_else(|e| panic!("{auth:?}: {e}"));
        let got: HashSet<String> = traces.iter().filter_map(|t| t.trace_id.clone()).collect();
        let want: HashSet<String> = emu.visible_trace_ids(&project.id).into_iter().collect();
        assert_eq!(got.len(), traces.len(), "{auth:?}: no trace twice");
        assert_eq!(got, want, "{auth:?}: exactly the emulator's traces");
        assert_eq!(want.len(), 450);
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn configuration_and_login_errors_arrive_as_cts_client_errors() {
    // No clouds.yaml anywhere: otc-auth's NoConfig, through `?`.
    let empty = TempDir::new("no-config");
    let e = last_two_days(&options(&empty, "otc"))
        .await
        .expect_err("no clouds.yaml");
    assert!(
        matches!(e, Error::Auth(otc_auth::Error::NoConfig { .. })),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with("OTC authentication failed: "),
        "{e}"
    );

    // A cloud name that is not in the file (non-ASCII, to see it named back).
    let emu = Emulator::start(
        EmulatorConfig::default(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let dir = TempDir::new("bad-cloud");
    let yaml = emu.clouds_yaml(AuthKind::Password);
    std::fs::write(dir.0.join("clouds.yaml"), &yaml).expect("write");
    let e = last_two_days(&options(&dir, "wolkë-☁"))
        .await
        .expect_err("unknown cloud");
    assert!(
        matches!(e, Error::Auth(otc_auth::Error::UnknownCloud { .. })),
        "{e:?}"
    );
    assert!(e.to_string().contains("wolkë-☁"), "{e}");

    // A wrong password: IAM refuses the login in from_cloud; the message never holds the password.
    let project = emu.projects().into_iter().next().expect("a project");
    let password = emu.credentials().password.expose().to_owned();
    assert!(
        yaml.contains(&password),
        "the written clouds.yaml holds the password"
    );
    let wrong = "not-the-pässword-0815";
    std::fs::write(dir.0.join("clouds.yaml"), yaml.replace(&password, wrong)).expect("write");
    let e = last_two_days(&options(&dir, &project.name))
        .await
        .expect_err("wrong password");
    assert!(
        matches!(e, Error::Auth(otc_auth::Error::Unauthorized { .. })),
        "{e:?}"
    );
    let text = format!("{e} {e:?}");
    assert!(!text.contains(wrong), "{text}");
    emu.shutdown().await;
}
