//! Passwords, secret keys and tokens never appear in Debug output, errors or logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use http::{HeaderMap, Method};
use otc_auth::{load_cloud, AuthProvider, RequestAuthorizer};
use tracing_subscriber::fmt::MakeWriter;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::aksk::{aksk_config, mount_iam, SK, ST};
use crate::common::Sandbox;
use crate::password::{mount_issuer, password_config, provider, PASSWORD};

#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
    }
}

const SECRETS: [&str; 5] = [PASSWORD, SK, ST, "tok-1", "env-only-password"];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} leaks '{s}':\n{text}");
    }
}

#[tokio::test]
async fn logs_at_trace_level_never_contain_secrets() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Configuration loading, with secrets in the file and in the environment.
    let mut sb = Sandbox::new();
    sb.write("cwd/clouds.yaml", &format!("clouds:\n  c:\n    profile: otc\n    auth:\n      username: alice\n      sk: '{SK}'\n      ak: AK1\n      project_name: eu-de_x\n"));
    sb.env("OS_PASSWORD", "env-only-password")
        .env("OS_SECURITY_TOKEN", ST);
    let cloud = load_cloud(&sb.opts, None).expect("load");
    assert_clean("CloudConfig Debug", &format!("{cloud:?} {:?}", sb.opts));

    // Password flow, including a failure.
    let server = MockServer::start().await;
    let (_, clock) = mount_issuer(&server, Duration::hours(24), std::time::Duration::ZERO).await;
    let p = provider(password_config(&server), clock);
    let mut h = HeaderMap::new();
    p.authorize(
        &Method::GET,
        &Url::parse("https://cts.example/").expect("url"),
        &mut h,
        b"",
    )
    .await
    .expect("authorize");
    assert_eq!(
        h.get("x-auth-token").and_then(|v| v.to_str().ok()),
        Some("tok-1")
    );
    assert_clean("provider/headers Debug", &format!("{p:?} {h:?}"));

    let failing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&failing)
        .await;
    let err = AuthProvider::new(password_config(&failing))
        .expect("provider")
        .project_id()
        .await
        .expect_err("401");
    assert_clean("error", &format!("{err} {err:?}"));

    // AK/SK flow.
    let iam = MockServer::start().await;
    mount_iam(&iam).await;
    let a = AuthProvider::new(aksk_config(&iam, Some(ST))).expect("provider");
    let mut h = HeaderMap::new();
    a.authorize(
        &Method::GET,
        &Url::parse("https://cts.example/v3/p/traces").expect("url"),
        &mut h,
        b"",
    )
    .await
    .expect("sign");
    assert_clean("AK/SK provider/headers Debug", &format!("{a:?} {h:?}"));

    let logs = capture.text();
    assert!(
        logs.contains("IAM token issued"),
        "capture works and the flow logs: {logs}"
    );
    assert!(logs.contains("cloud configuration loaded"), "{logs}");
    assert!(logs.contains("project resolved for AK/SK"), "{logs}");
    assert_clean("logs", &logs);
}
