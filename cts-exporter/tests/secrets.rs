//! No secret in the output: the built binary runs at debug and at trace
//! level against the CTS emulator, with password and AK/SK credentials, with
//! right and wrong ones, and sends events with an OIDC bearer token. All of
//! its stdout and stderr is searched for the password, the secret key, every
//! IAM token the emulator issued (recorded by a proxy in front of IAM) and
//! the bearer token. The secrets are made for this run, so the search cannot
//! pass by accident, and each search is first shown to find its secret.

#[path = "e2e/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use cts_emulator::{AuthKind, Credentials, Emulator, EmulatorConfig, Secret};

use support::exporter::{Exporter, Finished};
use support::sink::TestSink;

const LONG: Duration = Duration::from_secs(90);

/// A value no log line contains unless the secret leaked.
fn distinctive(kind: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{kind}{:x}{:08x}Zq", nanos, rand::random::<u32>())
}

#[path = "../../neo4j-sink/tests/support/leak_check.rs"]
mod leak_check;
use leak_check::{forms, leaks};

/// Emulator tokens look like `MIIEmu` and 64 hex digits; any 16 of them is a leak.
fn token_like(output: &str) -> Option<String> {
    output.match_indices("MIIEmu").find_map(|(i, _)| {
        let rest = &output[i + 6..];
        let hex = rest.bytes().take_while(u8::is_ascii_hexdigit).count();
        (hex >= 16).then(|| rest[..hex].to_string())
    })
}

#[test]
fn the_search_finds_what_it_looks_for() {
    let secret = distinctive("Pw-!");
    let secrets = [("password", secret.clone())];
    assert!(secret.len() > 20);
    assert_eq!(
        leaks(&format!("login with {secret} failed"), &secrets),
        ["password"]
    );
    let encoded = forms(&secret)[1].clone();
    assert!(encoded.contains("%21"), "{encoded}");
    assert_eq!(leaks(&format!("url?p={encoded}"), &secrets), ["password"]);
    assert!(leaks("login failed", &secrets).is_empty());
    assert_ne!(distinctive("a"), distinctive("a"));
    let token = format!("MIIEmu{:064x}", 7u128);
    assert!(token_like(&format!("X-Auth-Token: {token}")).is_some());
    assert!(token_like("MIIEmu is the token prefix").is_none());
}

/// A proxy in front of the emulator's IAM that records every token issued.
struct IamProxy {
    url: String,
    tokens: Arc<Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
}

type ProxyState = (String, Arc<Mutex<Vec<String>>>);

async fn forward(
    State((target, tokens)): State<ProxyState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut url = format!("{target}/auth/tokens");
    if let Some(q) = query {
        url = format!("{url}?{q}");
    }
    let mut req = reqwest::Client::new().post(url).body(body);
    if let Some(ct) = headers.get("content-type") {
        req = req.header("content-type", ct.clone());
    }
    let Ok(r) = req.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let status = StatusCode::from_u16(r.status().as_u16()).expect("status");
    let mut out = HeaderMap::new();
    for name in ["x-subject-token", "content-type"] {
        if let Some(v) = r.headers().get(name) {
            out.insert(name, v.clone());
        }
    }
    if let Some(t) = r
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
    {
        tokens.lock().expect("lock").push(t.to_string());
    }
    let body = r.bytes().await.unwrap_or_default();
    (status, out, body).into_response()
}

impl IamProxy {
    async fn start(emu: &Emulator) -> IamProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/v3", listener.local_addr().expect("addr"));
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let target = emu.iam_url().to_string().trim_end_matches('/').to_string();
        let app = Router::new()
            .route("/v3/auth/tokens", post(forward))
            .with_state((target, Arc::clone(&tokens)));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        IamProxy {
            url,
            tokens,
            server,
        }
    }

    fn tokens(&self) -> Vec<String> {
        self.tokens.lock().expect("lock").clone()
    }
}

impl Drop for IamProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

struct World {
    emu: Emulator,
    proxy: IamProxy,
    dir: tempfile::TempDir,
    password: String,
    sk: String,
    bearer: String,
}

impl World {
    async fn start() -> World {
        let password = distinctive("Pw-Geheim!");
        let sk = distinctive("SkSecret");
        let cfg = EmulatorConfig {
            history_count: 30,
            history_span: Duration::from_secs(120),
            // Tokens live 4 s, so the exporter fetches several while running.
            token_ttl: Duration::from_secs(4),
            credentials: Credentials {
                username: "secrets-test-user".into(),
                password: Secret::new(password.clone()),
                ak: "SECRETSTESTAK0000001".into(),
                sk: Secret::new(sk.clone()),
            },
            ..EmulatorConfig::default()
        };
        let emu = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("emulator");
        let proxy = IamProxy::start(&emu).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let bearer = distinctive("oidc-bearer-");
        std::fs::write(dir.path().join("oidc-token"), &bearer).expect("token file");
        World {
            emu,
            proxy,
            dir,
            password,
            sk,
            bearer,
        }
    }

    /// clouds.yaml for `auth`, with `replace` applied (a wrong secret), IAM
    /// reached through the proxy for password logins.
    fn write_clouds(&self, auth: AuthKind, replace: Option<(&str, &str)>) {
        let mut yaml = self.emu.clouds_yaml(auth);
        if auth == AuthKind::Password {
            let iam = self.emu.iam_url().to_string();
            yaml = yaml.replace(iam.trim_end_matches('/'), &self.proxy.url);
        }
        if let Some((from, to)) = replace {
            assert!(
                yaml.contains(from),
                "the clouds.yaml holds the secret to replace"
            );
            yaml = yaml.replace(from, to);
        }
        std::fs::write(self.dir.path().join("clouds.yaml"), yaml).expect("write");
    }

    fn env(&self, sink: &str, level: (&str, &str)) -> Vec<(String, String)> {
        let cloud = self.emu.projects()[0].name.clone();
        let path = |n: &str| self.dir.path().join(n).display().to_string();
        [
            ("OS_CLIENT_CONFIG_FILE", path("clouds.yaml")),
            ("HOME", path("")),
            ("OS_CLOUD", cloud),
            ("K_SINK", sink.to_string()),
            ("K_OIDC_TOKEN_FILE", path("oidc-token")),
            ("CTS_METRICS_ADDR", "off".to_string()),
            ("CTS_FROM", "5".to_string()),
            ("CTS_POLL_INTERVAL_SECS", "1".to_string()),
            ("CTS_SHUTDOWN_GRACE_SECS", "2".to_string()),
            ("CTS_RETRY_INITIAL_MS", "50".to_string()),
            ("CTS_RETRY_MAX_MS", "200".to_string()),
            (level.0, level.1.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// Runs the exporter until the sink has every history trace (plus `secs`
/// seconds of polling, so tokens expire and are renewed), then SIGTERM.
async fn deliver(world: &World, sink: &TestSink, level: (&str, &str), secs: u64) -> Finished {
    let exporter = Exporter::spawn(&[], &world.env(&sink.url(), level), world.dir.path());
    let start = Instant::now();
    while sink.accepted().len() < 30 {
        assert!(
            start.elapsed() < LONG,
            "no delivery:\n{}",
            exporter.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    exporter.terminate(LONG).await
}

fn output(done: &Finished) -> String {
    format!("{}\n{}", done.stdout, done.stderr)
}

fn assert_no_secret(what: &str, out: &str, secrets: &[(&str, String)]) {
    let found = leaks(out, secrets);
    assert!(
        found.is_empty(),
        "{what}: {found:?} appear in the output:\n{out}"
    );
    assert_eq!(
        token_like(out),
        None,
        "{what}: an IAM token appears in:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_sk_or_token_in_the_output_at_debug_and_trace_level() {
    let world = World::start().await;
    let sink = TestSink::start().await;
    let wrong_password = distinctive("WrongPw!");
    let wrong_sk = distinctive("WrongSk");
    let mut runs: Vec<(&str, Finished)> = Vec::new();

    world.write_clouds(AuthKind::Password, None);
    let done = deliver(&world, &sink, ("OS_DEBUG", "true"), 6).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    runs.push(("password, OS_DEBUG=true", done));
    let done = deliver(&world, &sink, ("RUST_LOG", "trace"), 2).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    runs.push(("password, RUST_LOG=trace", done));
    assert!(
        sink.received().iter().all(|r| r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            == Some(format!("Bearer {}", world.bearer).as_str())),
        "every event carried the bearer token, so it was in the process"
    );

    world.write_clouds(
        AuthKind::Password,
        Some((world.password.as_str(), wrong_password.as_str())),
    );
    let done = Exporter::spawn(
        &[],
        &world.env(&sink.url(), ("RUST_LOG", "trace")),
        world.dir.path(),
    )
    .wait(LONG)
    .await;
    assert_eq!(
        done.code,
        Some(70),
        "a refused password exits 70: {}",
        done.stderr
    );
    runs.push(("wrong password, RUST_LOG=trace", done));

    let aksk_sink = TestSink::start().await;
    world.write_clouds(AuthKind::AkSk, None);
    let done = deliver(&world, &aksk_sink, ("RUST_LOG", "trace"), 1).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    runs.push(("AK/SK, RUST_LOG=trace", done));
    world.write_clouds(AuthKind::AkSk, Some((world.sk.as_str(), wrong_sk.as_str())));
    let done = Exporter::spawn(
        &[],
        &world.env(&sink.url(), ("OS_DEBUG", "true")),
        world.dir.path(),
    )
    .wait(LONG)
    .await;
    assert_eq!(
        done.code,
        Some(70),
        "a refused SK exits 70: {}",
        done.stderr
    );
    runs.push(("wrong SK, OS_DEBUG=true", done));

    let tokens = world.proxy.tokens();
    assert!(
        tokens.len() >= 3,
        "the emulator issued tokens to the exporter (4 s lifetime): {}",
        tokens.len()
    );
    let mut secrets = vec![
        ("password", world.password.clone()),
        ("wrong password", wrong_password),
        ("secret key", world.sk.clone()),
        ("wrong secret key", wrong_sk),
        ("OIDC bearer token", world.bearer.clone()),
    ];
    secrets.extend(tokens.iter().map(|t| ("IAM token", t.clone())));
    for (what, done) in &runs {
        let out = output(done);
        assert!(!out.contains("panicked"), "{what}: {out}");
        // The run really was at debug level: the crates' debug lines are there.
        assert!(
            out.contains("DEBUG") && (out.contains("otc_auth") || out.contains("cts_client")),
            "{what}: no debug output:\n{out}"
        );
        assert_no_secret(what, &out, &secrets);
        println!(
            "{what:<32} exit {:?}, {} lines searched for {} secrets",
            done.code,
            out.lines().count(),
            secrets.len()
        );
    }
    let refused = output(&runs[2].1);
    assert!(
        refused.contains("401") || refused.contains("rejected"),
        "the refusal is reported: {refused}"
    );
}
