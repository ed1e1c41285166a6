//! No secret in the output: the real binary runs at trace level (every
//! crate, Neo4j driver and HTTP stack included) with a Neo4j user and
//! password made for this run, then with a wrong password for that user,
//! and receives events with valid, wrongly addressed and garbage OIDC bearer
//! tokens. Its whole stdout and stderr, and the `/readyz` and error bodies,
//! are searched for the password, the wrong password and every token; each
//! search is first shown to find its secret. Needs the Neo4j of `NEO4J_URI`
//! (skipped without it unless `NEO4J_REQUIRED=1`).

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use neo4rs::{query, ConfigBuilder, Graph};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ISSUER: &str = "https://kubernetes.default.svc";
const AUDIENCE: &str = "neo4j-sink.secrets-test";

fn distinctive(kind: &str) -> String {
    format!("{kind}{}Zq", uuid::Uuid::new_v4().simple())
}

#[path = "support/leak_check.rs"]
mod leak_check;
#[path = "support/sink_process.rs"]
mod sink_process;
#[path = "support/terminate.rs"]
mod terminate;
use leak_check::leaks;
use sink_process::Process;

#[test]
fn the_search_finds_what_it_looks_for() {
    let secret = distinctive("Pw-!");
    let secrets = [("password", secret.clone())];
    assert!(secret.len() > 30);
    assert_eq!(
        leaks(&format!("auth {secret} refused"), &secrets),
        ["password"]
    );
    let escaped = format!(
        "{{\"password\":{}}}",
        serde_json::to_string(&secret).expect("json")
    );
    assert_eq!(leaks(&escaped, &secrets), ["password"]);
    assert!(leaks(&format!("{}%21", &secret[..8]), &secrets).is_empty());
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// An ES256 key: its JWKS entry and a token signer.
fn es256() -> (Value, EncodingKey) {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("keygen");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("pair");
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
                     "x": b64url(&point[1..33]), "y": b64url(&point[33..65])});
    (jwk, EncodingKey::from_ec_der(pkcs8.as_ref()))
}

fn token(key: &EncodingKey, audience: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let claims = json!({"iss": ISSUER, "aud": audience, "sub": "system:serviceaccount:ns:sender",
                        "iat": now, "exp": now + 600});
    encode(&header, &claims, key).expect("sign")
}

impl Process {
    /// Polls `/readyz` until `done(status, body)`; returns the body.
    async fn readyz_until(&self, what: &str, done: impl Fn(u16, &Value) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", self.base)).await {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                if done(status, &serde_json::from_str(&text).unwrap_or(Value::Null)) {
                    return text;
                }
            }
            assert!(Instant::now() < deadline, "{what}:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, the exit code and everything the process printed.
    async fn stop(mut self) -> (Option<i32>, String) {
        let code = terminate::terminate(&mut self.child, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        (code, self.output())
    }
}

async fn admin(
    uri: &str,
    user: &str,
    password: &str,
    statement: &str,
    params: &[(&str, &str)],
) -> Result<(), String> {
    let config = ConfigBuilder::default()
        .uri(uri)
        .user(user)
        .password(password)
        .db("system")
        .build()
        .map_err(|e| format!("config: {e}"))?;
    let graph = Graph::connect(config).map_err(|e| format!("connect: {e}"))?;
    let mut q = query(statement);
    for (k, v) in params {
        q = q.param(k, *v);
    }
    graph.run(q).await.map_err(|e| format!("{statement}: {e}"))
}

/// The Neo4j user made for this run; dropped when the test ends, also when it fails midway.
struct TestUser {
    uri: String,
    admin: String,
    admin_password: String,
    name: String,
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let (uri, admin_user, password, name) = (
            self.uri.clone(),
            self.admin.clone(),
            self.admin_password.clone(),
            self.name.clone(),
        );
        // Drop cannot await, and the test's runtime may be the one unwinding: a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(admin(
                &uri,
                &admin_user,
                &password,
                "DROP USER $name IF EXISTS",
                &[("name", name.as_str())],
            ))
        })
        .join();
        if let Ok(Err(e)) | Err(e) = dropped.map_err(|_| "panicked".to_string()) {
            eprintln!("could not drop the test user {}: {e}", self.name);
        }
    }
}

fn event(id: &str) -> String {
    json!({"specversion": "1.0", "id": id, "source": "https://cts.example/v3/secrets",
           "type": "com.otc.cts.trace.ecs.x", "project": format!("proj-{id}"), "region": "eu-de",
           "data": {"trace_id": id, "time": 1_700_000_000_000_i64}})
    .to_string()
}

async fn post(base: &str, id: &str, bearer: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new()
        .post(base)
        .header("content-type", "application/cloudevents+json")
        .body(event(id));
    if let Some(b) = bearer {
        req = req.header("authorization", format!("Bearer {b}"));
    }
    let r = req.send().await.expect("answered");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_token_in_the_output_at_trace_level() {
    let Ok(uri) = std::env::var("NEO4J_URI") else {
        assert_ne!(
            std::env::var("NEO4J_REQUIRED").as_deref(),
            Ok("1"),
            "NEO4J_REQUIRED=1 but NEO4J_URI is not set"
        );
        eprintln!("skipped: NEO4J_URI not set");
        return;
    };
    let admin_user = std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let admin_password = std::env::var("NEO4J_PASSWORD").unwrap_or_default();
    let run = uuid::Uuid::new_v4().simple().to_string();
    let user = format!("secrets_{}", &run[..12]);
    let password = distinctive("N4j-Pw-Geheim!");
    let wrong_password = distinctive("N4j-WrongPw!");
    admin(
        &uri,
        &admin_user,
        &admin_password,
        "CREATE USER $name SET PASSWORD $pw CHANGE NOT REQUIRED",
        &[("name", user.as_str()), ("pw", password.as_str())],
    )
    .await
    .expect("create the test user");
    let test_user = TestUser {
        uri: uri.clone(),
        admin: admin_user.clone(),
        admin_password: admin_password.clone(),
        name: user.clone(),
    };

    let dir = tempfile::tempdir().expect("tempdir");
    let (jwk, key) = es256();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [jwk]}).to_string()).expect("jwks");
    let valid = token(&key, AUDIENCE);
    let misaddressed = token(&key, "another-sink");
    let garbage = distinctive("garbage-bearer-");
    let jwks = jwks.to_str().expect("utf-8");
    let base = [
        ("NEO4J_URI", uri.as_str()),
        ("NEO4J_USER", user.as_str()),
        ("LOG_LEVEL", "trace"),
        ("OIDC_AUDIENCE", AUDIENCE),
        ("OIDC_ISSUER", ISSUER),
        ("OIDC_JWKS_FILE", jwks),
    ];
    let mut outputs = Vec::new();
    let mut bodies = String::new();

    // The right password, JSON logs: events with every kind of bearer.
    let mut vars = base.to_vec();
    vars.extend([
        ("NEO4J_PASSWORD", password.as_str()),
        ("LOG_FORMAT", "json"),
    ]);
    let sink = Process::start(&vars);
    bodies += &sink.readyz_until("ready", |s, _| s == 200).await;
    let cases = [
        ("valid token", Some(valid.as_str()), 202),
        (
            "token for another audience",
            Some(misaddressed.as_str()),
            401,
        ),
        ("garbage token", Some(garbage.as_str()), 401),
        ("no token", None, 401),
    ];
    for (what, bearer, want) in cases {
        let (status, body) = post(
            &sink.base,
            &format!("{run}-{}", what.replace(' ', "-")),
            bearer,
        )
        .await;
        assert_eq!(status, want, "{what}: {body}");
        bodies += &body;
    }
    let (code, out) = sink.stop().await;
    assert_eq!(code, Some(0), "{out}");
    outputs.push(("right password, json, trace", out));

    // A wrong password for the same user, text logs.
    let mut vars = base.to_vec();
    vars.extend([
        ("NEO4J_PASSWORD", wrong_password.as_str()),
        ("LOG_FORMAT", "text"),
    ]);
    let sink = Process::start(&vars);
    bodies += &sink
        .readyz_until("the refused password explained", |_, b| {
            b["error"]
                .as_str()
                .is_some_and(|e| e.contains("NEO4J_PASSWORD"))
        })
        .await;
    let (status, body) = post(&sink.base, &format!("{run}-refused"), Some(&valid)).await;
    assert_eq!(status, 503, "{body}");
    bodies += &body;
    let (code, out) = sink.stop().await;
    assert_eq!(code, Some(0), "{out}");
    outputs.push(("wrong password, text, trace", out));

    drop(test_user);

    let signature = |t: &str| t.rsplit('.').next().expect("signature").to_string();
    let secrets = [
        ("Neo4j password", password),
        ("wrong Neo4j password", wrong_password),
        ("admin password", admin_password),
        ("valid bearer token", valid.clone()),
        ("valid token signature", signature(&valid)),
        ("misaddressed bearer token", misaddressed.clone()),
        ("misaddressed token signature", signature(&misaddressed)),
        ("garbage bearer token", garbage),
    ];
    let secrets: Vec<_> = secrets.into_iter().filter(|(_, s)| s.len() >= 8).collect();
    for (what, out) in &outputs {
        assert!(!out.contains("panicked"), "{what}: {out}");
        assert!(
            out.contains("TRACE") || out.contains("\"level\":\"TRACE\""),
            "{what}: not at trace level:\n{out}"
        );
        assert!(
            out.contains("neo4rs") || out.contains("hyper"),
            "{what}: library logs are on"
        );
        assert!(
            !out.contains('\u{1b}'),
            "{what}: terminal colour codes in a log that is not a terminal:\n{out}"
        );
        let found = leaks(out, &secrets);
        assert!(found.is_empty(), "{what}: {found:?} in the output:\n{out}");
        println!("{what:<30} {} lines, no secret", out.lines().count());
    }
    let found = leaks(&bodies, &secrets);
    assert!(found.is_empty(), "{found:?} in an HTTP answer: {bodies}");
}
