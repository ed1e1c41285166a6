//! `EventContext::resolve` against the emulator's IAM: project, domain, region and
//! catalog endpoint as IAM tells them (feature `cloudevents`).
#![cfg(feature = "cloudevents")]

use cts_client::event::EventContext;
use cts_emulator::{AuthKind, Emulator, EmulatorConfig};
use otc_auth::{load_cloud, AuthProvider, LoadOptions};

#[tokio::test]
async fn resolves_the_context_of_a_cloud_through_iam() {
    let emu = Emulator::start(
        EmulatorConfig::default(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let project = emu.projects().into_iter().next().expect("a project");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("clouds.yaml"),
        emu.clouds_yaml(AuthKind::Password),
    )
    .expect("write");
    let mut options = LoadOptions::new(dir.path(), dir.path().join("no-system-dir"));
    options.env.insert("OS_CLOUD".into(), project.name.clone());
    let provider = AuthProvider::new(load_cloud(&options, None).expect("cloud")).expect("provider");
    let (ctx, url) = EventContext::resolve(&provider, "trackér-1")
        .await
        .expect("resolved");
    assert_eq!(ctx.project_id, project.id);
    assert_eq!(ctx.region, provider.region());
    assert_eq!(ctx.tracker, "trackér-1");
    assert!(
        !ctx.domain_id.is_empty(),
        "the emulator's IAM tells the domain"
    );
    assert_eq!(ctx.project_name, project.name, "from clouds.yaml");
    assert!(url.as_str().starts_with(emu.base_url().as_str()), "{url}");
    assert_eq!(
        ctx.source,
        format!(
            "{}projects/{}/trackers/trackér-1",
            emu.base_url(),
            project.id
        )
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_rejected_password_is_not_retried() {
    let emu = Emulator::start(
        EmulatorConfig::default(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("emulator");
    let project = emu.projects().into_iter().next().expect("a project");
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = emu.clouds_yaml(AuthKind::Password);
    let password = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("password:"))
        .expect("a password line")
        .trim()
        .to_string();
    let wrong = yaml.replace(&password, "\"wrong-pässword\"");
    std::fs::write(dir.path().join("clouds.yaml"), wrong).expect("write");
    let mut options = LoadOptions::new(dir.path(), dir.path().join("no-system-dir"));
    options.env.insert("OS_CLOUD".into(), project.name.clone());
    let provider = AuthProvider::new(load_cloud(&options, None).expect("cloud")).expect("provider");
    let started = std::time::Instant::now();
    let e = EventContext::resolve(&provider, "system")
        .await
        .expect_err("refused");
    assert!(!e.is_retryable() && !e.is_configuration(), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "no retry wait"
    );
    assert!(!e.to_string().contains("wrong-pässword"), "{e}");
    emu.shutdown().await;
}
