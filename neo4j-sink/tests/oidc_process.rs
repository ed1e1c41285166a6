//! The real binary's OIDC logs and metrics: refused tokens are logged at debug
//! with their reason and counted, a broken key file keeps the last good keys
//! with a WARN and `neo4j_sink_auth_keys_stale` = 1, and no byte of any token
//! reaches the output (the binary runs at trace level, every crate included).
//! Needs no Neo4j: tokens are checked before readiness, so the sink answers
//! 503 `not_ready` to a token it accepted (Neo4j is pointed at a closed port).

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

#[path = "support/leak_check.rs"]
mod leak_check;
#[path = "support/sink_process.rs"]
mod sink_process;
#[path = "support/terminate.rs"]
mod terminate;
use leak_check::leaks;
use sink_process::Process;

const ISSUER: &str = "https://kubernetes.default.svc";
const AUDIENCE: &str = "neo4j-sink.oidc-process-test";

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

struct Key {
    kid: String,
    signing: EncodingKey,
    jwk: Value,
}

fn es256(kid: &str) -> Key {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("keygen");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("pair");
    let point = pair.public_key().as_ref();
    Key {
        kid: kid.into(),
        signing: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                    "x": b64url(&point[1..33]), "y": b64url(&point[33..65])}),
    }
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "system:serviceaccount:ns:sender",
           "iat": now(), "exp": now() + 600})
}

fn token(key: &Key, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    encode(&header, claims, &key.signing).expect("sign")
}

fn with_header(key: &Key, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key.signing, Algorithm::ES256).expect("sign");
    format!("{input}.{signature}")
}

fn publish(path: &Path, keys: &[&Key]) {
    let next = path.with_extension("next");
    let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    std::fs::write(&next, doc.to_string()).expect("write");
    std::fs::rename(&next, path).expect("rename");
}

impl Process {
    async fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while reqwest::get(format!("{}/healthz", self.base))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "not listening:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn post(&self, bearer: &str) -> (u16, Value) {
        let event = json!({"specversion": "1.0", "id": "e1", "source": "https://cts.example/v3/p",
                           "type": "com.otc.cts.trace.ecs.x", "project": "p", "region": "eu-de",
                           "data": {"trace_id": "e1", "time": 1_700_000_000_000_i64}});
        let r = reqwest::Client::new()
            .post(&self.base)
            .header("content-type", "application/cloudevents+json")
            .header("authorization", format!("Bearer {bearer}"))
            .body(event.to_string())
            .send()
            .await
            .expect("answered");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} not found in:\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_stale_keys_are_logged_and_counted_without_token_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (k1, k2) = (es256("k1"), es256("k2"));
    let jwks = dir.path().join("jwks.json");
    publish(&jwks, &[&k1]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let uri = format!("neo4j://127.0.0.1:{closed}");
    let jwks_path = jwks.to_str().expect("utf-8");
    let sink = Process::start(&[
        ("NEO4J_URI", &uri),
        ("NEO4J_PASSWORD", "unused-password"),
        ("LOG_LEVEL", "trace"),
        ("LOG_FORMAT", "json"),
        ("OIDC_AUDIENCE", AUDIENCE),
        ("OIDC_ISSUER", ISSUER),
        ("OIDC_JWKS_FILE", jwks_path),
        ("OIDC_JWKS_MIN_RELOAD_SECS", "1"),
    ]);
    sink.wait_listening().await;

    let mut expired = claims();
    expired["exp"] = json!(now() - 3600);
    let mut not_yet = claims();
    not_yet["nbf"] = json!(now() + 3600);
    let valid = token(&k1, &claims());
    let tokens = [
        ("valid", valid.clone(), 503, "not_ready", None),
        (
            "expired",
            token(&k1, &expired),
            401,
            "unauthorized",
            Some("expired"),
        ),
        (
            "nbf",
            token(&k1, &not_yet),
            401,
            "unauthorized",
            Some("not_yet_valid"),
        ),
        (
            "crit",
            with_header(
                &k1,
                &json!({"alg": "ES256", "kid": "k1", "crit": ["ext"], "ext": 1}),
                &claims(),
            ),
            401,
            "unauthorized",
            Some("crit"),
        ),
        (
            "other signer",
            token(&es256("k1"), &claims()),
            401,
            "unauthorized",
            Some("signature"),
        ),
        (
            "unknown key",
            token(&k2, &claims()),
            503,
            "auth_unknown_key",
            Some("unknown_key"),
        ),
        (
            "garbage",
            format!("garbage-bearer-{}", uuid::Uuid::new_v4().simple()),
            401,
            "unauthorized",
            Some("malformed"),
        ),
    ];
    let mut bodies = String::new();
    for (what, bearer, status, error, _) in &tokens {
        let (got, body) = sink.post(bearer).await;
        assert_eq!(got, *status, "{what}: {body}");
        assert_eq!(body["error"], *error, "{what}: {body}");
        bodies += &body.to_string();
    }

    // The key file breaks: the last good key is kept (the valid token still
    // passes the check), with a WARN and the stale gauge.
    std::fs::write(&jwks, b"{\"keys\": [{\"kty\": ").expect("write");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = sink.post(&token(&k2, &claims())).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = sink.post(&valid).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("not_ready")));
    let metrics = sink.metrics().await;
    assert_eq!(sample(&metrics, "neo4j_sink_auth_keys_stale"), 1.0);
    assert_eq!(sample(&metrics, "neo4j_sink_auth_keys"), 1.0);
    assert_eq!(
        sample(
            &metrics,
            "neo4j_sink_auth_key_reloads_total{outcome=\"failed\"}"
        ),
        1.0
    );
    for (_, _, _, _, reason) in &tokens {
        if let Some(reason) = reason {
            let name = format!("neo4j_sink_auth_refused_total{{reason=\"{reason}\"}}");
            let want = if *reason == "unknown_key" { 2.0 } else { 1.0 };
            assert_eq!(sample(&metrics, &name), want, "{name}");
        }
    }
    // Readable again, with only the new key: k1 is refused, the gauge clears.
    publish(&jwks, &[&k2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = sink.post(&token(&k2, &claims())).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("not_ready")));
    let (status, body) = sink.post(&valid).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("auth_unknown_key"))
    );
    let metrics = sink.metrics().await;
    assert_eq!(sample(&metrics, "neo4j_sink_auth_keys_stale"), 0.0);

    let code = {
        let mut sink = sink;
        let code = terminate::terminate(&mut sink.child, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let out = sink.output();
        (code, out)
    };
    let (code, out) = code;
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "OIDC token refused")
        .collect();
    for (what, _, _, _, reason) in &tokens {
        if let Some(reason) = reason {
            assert!(
                refused
                    .iter()
                    .any(|l| l["level"] == "DEBUG" && l["reason"] == *reason),
                "{what}: no debug line with reason {reason}:\n{out}"
            );
        }
    }
    let stale = lines
        .iter()
        .find(|l| {
            l["level"] == "WARN"
                && l["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("keeping the keys of the last good load"))
        })
        .unwrap_or_else(|| panic!("no WARN for the broken key file:\n{out}"));
    assert_eq!(stale["keys_kept"], 1, "{stale}");
    assert!(
        stale["error"]
            .as_str()
            .is_some_and(|e| e.contains("not JSON")),
        "{stale}"
    );
    assert!(
        lines.iter().any(|l| l["level"] == "INFO"
            && l["message"] == "OIDC keys loaded"
            && l["key_ids"] == "[\"k2\"]"),
        "the new key set is logged:\n{out}"
    );
    // No token, and no signature or payload of one, in the output or the answers.
    let mut secrets: Vec<(&str, String)> = Vec::new();
    for (what, bearer, _, _, _) in &tokens {
        secrets.push((what, bearer.clone()));
        for part in bearer.split('.').skip(1) {
            if part.len() >= 16 {
                secrets.push((what, part.to_string()));
            }
        }
    }
    assert!(out.contains("TRACE"), "not at trace level");
    let found = leaks(&out, &secrets);
    assert!(found.is_empty(), "{found:?} in the output:\n{out}");
    let found = leaks(&bodies, &secrets);
    assert!(found.is_empty(), "{found:?} in an answer: {bodies}");
}
