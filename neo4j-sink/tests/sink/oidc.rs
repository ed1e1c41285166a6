//! Authenticated delivery with keys made in the test: an ES256 key from
//! ring and an RS256 key from `openssl genpkey`, published as a JWKS file.

use crate::common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{EcdsaKeyPair, KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const ISSUER: &str = "https://kubernetes.default.svc";
const AUDIENCE: &str = "neo4j-sink.knative-test";
const BROKER: &str = "system:serviceaccount:knative-eventing:broker";

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

struct TestKey {
    kid: &'static str,
    alg: Algorithm,
    signing: EncodingKey,
    jwk: Value,
}

fn es256_key(kid: &'static str) -> TestKey {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("keygen");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("pair");
    let point = pair.public_key().as_ref();
    TestKey {
        kid,
        alg: Algorithm::ES256,
        signing: EncodingKey::from_ec_der(pkcs8.as_ref()),
        jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                    "x": b64url(&point[1..33]), "y": b64url(&point[33..65])}),
    }
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command is needed to make an RSA key");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rs256_key(kid: &'static str, dir: &Path) -> TestKey {
    let pkcs8 = dir.join(format!("{kid}.pk8.der"));
    let pkcs1 = dir.join(format!("{kid}.rsa.der"));
    let (p8, p1) = (pkcs8.to_str().expect("utf8"), pkcs1.to_str().expect("utf8"));
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-outform",
        "DER",
        "-out",
        p8,
    ]);
    openssl(&[
        "rsa",
        "-inform",
        "DER",
        "-in",
        p8,
        "-outform",
        "DER",
        "-traditional",
        "-out",
        p1,
    ]);
    let der = std::fs::read(&pkcs1).expect("key");
    let pair = RsaKeyPair::from_der(&der).expect("rsa key");
    let public = PublicKeyComponents::<Vec<u8>>::from(pair.public());
    TestKey {
        kid,
        alg: Algorithm::RS256,
        signing: EncodingKey::from_rsa_der(&der),
        jwk: json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                    "n": b64url(&public.n), "e": b64url(&public.e)}),
    }
}

fn token(key: &TestKey, claims: Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.to_string());
    encode(&header, &claims, &key.signing).expect("sign")
}

fn claims(sub: &str, exp_offset: i64) -> Value {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + exp_offset})
}

#[tokio::test]
async fn oidc_tokens_are_checked_before_anything_is_written() {
    let Some(env) = env("oidc_tokens_are_checked_before_anything_is_written") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ec = es256_key("ec-1");
    let rsa = rs256_key("rsa-1", dir.path());
    let stranger = es256_key("ec-1");
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        serde_json::to_vec(&json!({"keys": [ec.jwk, rsa.jwk]})).expect("json"),
    )
    .expect("write");
    let jwks_flag = format!("--oidc-jwks-file={}", jwks.display());
    let sink = TestSink::ready(
        &env,
        &[
            &format!("--oidc-audience={AUDIENCE}"),
            &format!("--oidc-issuer={ISSUER}"),
            &jwks_flag,
            &format!("--oidc-allowed-subjects={BROKER},system:serviceaccount:ns:other"),
        ],
    )
    .await;
    let graph = graph(&env);
    let run = run_id();

    let mut wrong_aud = claims(BROKER, 600);
    wrong_aud["aud"] = json!("another-sink");
    let mut wrong_iss = claims(BROKER, 600);
    wrong_iss["iss"] = json!("https://evil.example");
    let cases: Vec<(&str, Option<String>, u16)> = vec![
        (
            "ES256 from the broker",
            Some(token(&ec, claims(BROKER, 600))),
            202,
        ),
        (
            "RS256 from the broker",
            Some(token(&rsa, claims(BROKER, 600))),
            202,
        ),
        ("no token", None, 401),
        ("expired", Some(token(&ec, claims(BROKER, -3600))), 401),
        ("wrong audience", Some(token(&rsa, wrong_aud)), 401),
        ("wrong issuer", Some(token(&ec, wrong_iss)), 401),
        (
            "signed by another key",
            Some(token(&stranger, claims(BROKER, 600))),
            401,
        ),
        (
            "subject not allowed",
            Some(token(&ec, claims("system:serviceaccount:ns:intruder", 600))),
            403,
        ),
    ];
    for (i, (name, bearer, status)) in cases.into_iter().enumerate() {
        let id = format!("{run}-oidc-{i}");
        let mut req = sink.binary(&event(&id, &run));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.expect("request");
        assert_eq!(r.status().as_u16(), status, "{name}");
        if status == 401 {
            assert_eq!(r.headers()["www-authenticate"], "Bearer", "{name}");
        }
        let body: Value = r.json().await.expect("json body");
        let expected = if status == 202 { 1 } else { 0 };
        assert_eq!(actions(&graph, &id).await, expected, "{name}: {body}");
    }
    // Probes and metrics stay open for the kubelet and Prometheus.
    assert_eq!(
        sink.http
            .get(sink.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        200
    );
    assert_eq!(
        sink.http
            .get(sink.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .status(),
        200
    );
    sink.stop().await;
}

/// Replaces the key file the way a ConfigMap update does: a new file renamed over the old one.
fn publish(path: &Path, keys: &[&TestKey]) {
    let next = path.with_extension("next");
    let doc = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    std::fs::write(&next, serde_json::to_vec(&doc).expect("json")).expect("write");
    std::fs::rename(&next, path).expect("rename");
}

/// One event delivered the way Knative does: the token is taken once, and the
/// request is retried on 429 and 5xx after `Retry-After` (at most 2 s here),
/// never on another 4xx. Returns the final status and the number of attempts.
async fn deliver(sink: &TestSink, event: &Value, token: &str) -> (u16, usize) {
    for attempt in 1..=30 {
        let r = sink
            .binary(event)
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        if status != 429 && status < 500 {
            return (status, attempt);
        }
        let after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1)
            .min(2);
        tokio::time::sleep(std::time::Duration::from_secs(after)).await;
    }
    (0, 30)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_while_events_flow_loses_nothing() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;
    let Some(env) = env("a_key_rotation_while_events_flow_loses_nothing") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let old = Arc::new(es256_key("sa-key-2026-01"));
    let new = Arc::new(rs256_key("sa-key-2026-02", dir.path()));
    let jwks = dir.path().join("jwks.json");
    publish(&jwks, &[&old]);
    let jwks_flag = format!("--oidc-jwks-file={}", jwks.display());
    let sink = Arc::new(
        TestSink::ready(
            &env,
            &[
                &format!("--oidc-audience={AUDIENCE}"),
                &format!("--oidc-issuer={ISSUER}"),
                &jwks_flag,
                "--oidc-jwks-refresh-secs=10",
                "--oidc-jwks-min-reload-secs=1",
                "--retry-after-unavailable-secs=1",
            ],
        )
        .await,
    );
    let graph = graph(&env);
    let run = run_id();
    // Which key the issuer signs new tokens with: 0 the old one, 1 the new one.
    let signing = Arc::new(AtomicUsize::new(0));
    let (senders, per_sender) = (4, 25);
    let mut tasks = Vec::new();
    for s in 0..senders {
        let (sink, signing, old, new, run) = (
            sink.clone(),
            signing.clone(),
            old.clone(),
            new.clone(),
            run.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for i in 0..per_sender {
                let id = format!("{run}-rot-{s}-{i}");
                let key = if signing.load(Ordering::SeqCst) == 0 {
                    &old
                } else {
                    &new
                };
                let token = token(key, claims(BROKER, 600));
                let (status, attempts) = deliver(&sink, &event(&id, &run), &token).await;
                results.push((id, status, attempts));
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            results
        }));
    }
    // The issuer rotates: new tokens are signed with a key the sink has not seen.
    tokio::time::sleep(Duration::from_millis(400)).await;
    signing.store(1, Ordering::SeqCst);
    // The new key reaches the mounted file a while later (the kubelet's sync delay).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    publish(&jwks, &[&old, &new]);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("sender"));
    }
    assert_eq!(all.len(), senders * per_sender);
    let lost: Vec<_> = all.iter().filter(|(_, status, _)| *status != 202).collect();
    assert!(lost.is_empty(), "not delivered: {lost:?}");
    let retried = all.iter().filter(|(_, _, attempts)| *attempts > 1).count();
    for (id, _, _) in &all {
        assert_eq!(actions(&graph, id).await, 1, "{id} is in the graph once");
    }
    let metrics = sink.metrics().await;
    let unknown = sample(
        &metrics,
        "neo4j_sink_auth_refused_total{reason=\"unknown_key\"}",
    );
    assert!(
        unknown >= 1.0 && retried >= 1,
        "the rotation was exercised: {unknown} unknown-key answers, {retried} events retried"
    );
    for reason in ["signature", "expired", "malformed", "missing_token"] {
        let name = format!("neo4j_sink_auth_refused_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&metrics, &name), 0.0, "{name}");
    }
    assert_eq!(sample(&metrics, "neo4j_sink_auth_keys"), 2.0);
    assert_eq!(sample(&metrics, "neo4j_sink_auth_keys_stale"), 0.0);
    println!(
        "{} events, {retried} retried during the rotation, {unknown} answers 503 auth_unknown_key",
        all.len()
    );

    // The old key is withdrawn: a token it signed is accepted until the next
    // reload (the refresh, every 10 s here), then refused with 503.
    publish(&jwks, &[&new]);
    let withdrawn = std::time::Instant::now();
    let mut accepted_meanwhile = 0;
    let body = loop {
        let id = format!("{run}-withdrawn-{accepted_meanwhile}");
        let r = sink
            .binary(&event(&id, &run))
            .bearer_auth(token(&old, claims(BROKER, 600)))
            .send()
            .await
            .expect("request");
        if r.status() == 503 {
            let after: u64 = r.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=10).contains(&after), "Retry-After {after}");
            let body: Value = r.json().await.expect("json");
            assert_eq!(actions(&graph, &id).await, 0);
            break body;
        }
        assert_eq!(r.status(), 202, "accepted until the reload");
        accepted_meanwhile += 1;
        assert!(
            withdrawn.elapsed() < Duration::from_secs(25),
            "the withdrawn key is still accepted after two refresh intervals"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(body["error"], "auth_unknown_key", "{body}");
    println!(
        "the withdrawn key was refused {:?} after it left the file",
        withdrawn.elapsed()
    );
    let metrics = sink.metrics().await;
    assert_eq!(sample(&metrics, "neo4j_sink_auth_keys"), 1.0);
    let id = format!("{run}-withdrawn");

    // A broken key file keeps the last good keys, and says so.
    std::fs::write(&jwks, b"{\"keys\": [").expect("write");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = sink
        .binary(&event(&id, &run))
        .bearer_auth(token(&old, claims(BROKER, 600)))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 503, "the old key is still unknown");
    let id = format!("{run}-kept");
    let (status, _) = deliver(&sink, &event(&id, &run), &token(&new, claims(BROKER, 600))).await;
    assert_eq!(status, 202, "the kept key still works");
    let metrics = sink.metrics().await;
    assert_eq!(sample(&metrics, "neo4j_sink_auth_keys_stale"), 1.0);
    assert!(
        sample(
            &metrics,
            "neo4j_sink_auth_key_reloads_total{outcome=\"failed\"}"
        ) >= 1.0
    );
    match Arc::try_unwrap(sink) {
        Ok(sink) => {
            sink.stop().await;
        }
        Err(_) => panic!("a sender still holds the sink"),
    }
}

#[tokio::test]
async fn nbf_crit_and_unknown_keys_over_http() {
    let Some(env) = env("nbf_crit_and_unknown_keys_over_http") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let ec = es256_key("ec-1");
    let jwks = dir.path().join("jwks.json");
    publish(&jwks, &[&ec]);
    let jwks_flag = format!("--oidc-jwks-file={}", jwks.display());
    let sink = TestSink::ready(
        &env,
        &[
            &format!("--oidc-audience={AUDIENCE}"),
            &format!("--oidc-issuer={ISSUER}"),
            &jwks_flag,
            "--oidc-jwks-min-reload-secs=60",
        ],
    )
    .await;
    let graph = graph(&env);
    let run = run_id();
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let mut soon = claims(BROKER, 600);
    soon["nbf"] = json!(now + 10);
    let mut later = claims(BROKER, 600);
    later["nbf"] = json!(now + 300);
    let crit = {
        // jsonwebtoken's Header has no `crit`: write the header JSON, then sign with its signer.
        let header = json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"], "exp": now + 600});
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims(BROKER, 600).to_string().as_bytes())
        );
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &ec.signing, Algorithm::ES256)
            .expect("sign");
        format!("{input}.{signature}")
    };
    let cases = [
        ("nbf within the leeway", token(&ec, soon), 202, ""),
        ("nbf in the future", token(&ec, later), 401, "unauthorized"),
        ("crit extension", crit, 401, "unauthorized"),
        (
            "unknown key id",
            token(&es256_key("ec-2"), claims(BROKER, 600)),
            503,
            "auth_unknown_key",
        ),
    ];
    for (i, (name, bearer, status, error)) in cases.into_iter().enumerate() {
        let id = format!("{run}-jwt-{i}");
        let r = sink
            .binary(&event(&id, &run))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), status, "{name}");
        if status == 503 {
            let after: u64 = r.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&after), "{name}: Retry-After {after}");
        }
        let body: Value = r.json().await.expect("json body");
        if !error.is_empty() {
            assert_eq!(body["error"], error, "{name}: {body}");
        }
        let expected = if status == 202 { 1 } else { 0 };
        assert_eq!(actions(&graph, &id).await, expected, "{name}: {body}");
    }
    let metrics = sink.metrics().await;
    for (reason, n) in [("not_yet_valid", 1.0), ("crit", 1.0), ("unknown_key", 1.0)] {
        let name = format!("neo4j_sink_auth_refused_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&metrics, &name), n, "{name}");
    }
    sink.stop().await;
}

/// An RS256 token signed by `openssl dgst` (not by the JWT library the sink uses)
/// with the key `rs256_key(kid, dir)` made, for any header.
fn openssl_token(dir: &Path, kid: &str, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let (message, signature) = (dir.join("input.txt"), dir.join("signature.bin"));
    std::fs::write(&message, &input).expect("write");
    let key = dir.join(format!("{kid}.pk8.der"));
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        key.to_str().expect("utf8"),
        "-keyform",
        "DER",
        "-out",
        signature.to_str().expect("utf8"),
        message.to_str().expect("utf8"),
    ]);
    let signature = std::fs::read(&signature).expect("signature");
    format!("{input}.{}", b64url(&signature))
}

#[tokio::test]
async fn tokens_signed_by_openssl_follow_the_same_rules() {
    let Some(env) = env("tokens_signed_by_openssl_follow_the_same_rules") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let rsa = rs256_key("rsa-openssl", dir.path());
    let jwks = dir.path().join("jwks.json");
    publish(&jwks, &[&rsa]);
    let jwks_flag = format!("--oidc-jwks-file={}", jwks.display());
    let sink = TestSink::ready(
        &env,
        &[
            &format!("--oidc-audience={AUDIENCE}"),
            &format!("--oidc-issuer={ISSUER}"),
            &jwks_flag,
        ],
    )
    .await;
    let graph = graph(&env);
    let run = run_id();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "rsa-openssl"});
    let now = jsonwebtoken::get_current_timestamp() as i64;
    // PKCS#1 v1.5 signatures are deterministic: openssl and the library agree byte for byte.
    let same = claims(BROKER, 600);
    let by_openssl = openssl_token(dir.path(), "rsa-openssl", &header, &same);
    let (input, signature) = by_openssl.rsplit_once('.').expect("three parts");
    let by_library =
        jsonwebtoken::crypto::sign(input.as_bytes(), &rsa.signing, Algorithm::RS256).expect("sign");
    assert_eq!(signature, by_library, "the same signature");
    let mut not_yet = claims(BROKER, 600);
    not_yet["nbf"] = json!(now + 3600);
    let mut crit = header.clone();
    crit["crit"] = json!(["urn:example:ext"]);
    crit["urn:example:ext"] = json!(true);
    let mut unicode = claims("système:serviceaccount:名前空間:broker", 600);
    unicode["aud"] = json!([AUDIENCE, "ünïcødé"]);
    let cases = [
        ("openssl-signed", by_openssl, 202),
        (
            "non-ASCII claims",
            openssl_token(dir.path(), "rsa-openssl", &header, &unicode),
            202,
        ),
        (
            "nbf an hour ahead",
            openssl_token(dir.path(), "rsa-openssl", &header, &not_yet),
            401,
        ),
        (
            "unknown critical extension",
            openssl_token(dir.path(), "rsa-openssl", &crit, &claims(BROKER, 600)),
            401,
        ),
        (
            "ES256 header on an RSA signature",
            openssl_token(
                dir.path(),
                "rsa-openssl",
                &json!({"alg": "ES256", "kid": "rsa-openssl"}),
                &claims(BROKER, 600),
            ),
            401,
        ),
    ];
    for (i, (name, bearer, status)) in cases.into_iter().enumerate() {
        let id = format!("{run}-openssl-{i}");
        let r = sink
            .binary(&event(&id, &run))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), status, "{name}");
        let body: Value = r.json().await.expect("json body");
        let expected = if status == 202 { 1 } else { 0 };
        assert_eq!(actions(&graph, &id).await, expected, "{name}: {body}");
    }
    sink.stop().await;
}
