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
