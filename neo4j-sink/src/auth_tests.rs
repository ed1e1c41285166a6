//! Unit tests of token verification with ES256 keys made in the test.

use super::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;

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

struct EcKey {
    kid: String,
    pkcs8: Vec<u8>,
    jwk: Value,
}

fn ec_key(kid: &str) -> EcKey {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("keygen");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("pair");
    let point = pair.public_key().as_ref();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                     "x": b64url(&point[1..33]), "y": b64url(&point[33..65])});
    EcKey {
        kid: kid.into(),
        pkcs8: pkcs8.as_ref().to_vec(),
        jwk,
    }
}

fn token(key: &EcKey, claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    encode(&header, &claims, &EncodingKey::from_ec_der(&key.pkcs8)).expect("sign")
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(sub: &str) -> Value {
    json!({"iss": "https://issuer.test", "aud": "sink-aud", "sub": sub, "exp": now() + 600, "iat": now()})
}

async fn verifier(keys: &[&EcKey], allowed: Option<&[&str]>) -> (Arc<Verifier>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    let jwks = json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    std::fs::write(&path, serde_json::to_vec(&jwks).expect("json")).expect("write");
    let config = OidcConfig {
        audience: "sink-aud".into(),
        issuer: "https://issuer.test".into(),
        jwks: JwksSource::File(path),
        allowed_subjects: allowed.map(|a| a.iter().map(|s| s.to_string()).collect()),
        refresh: Duration::from_secs(300),
    };
    (Verifier::new(config).await.expect("verifier"), dir)
}

#[test]
fn base64url_matches_rfc4648_vectors() {
    assert_eq!(b64url(b"f"), "Zg");
    assert_eq!(b64url(b"fo"), "Zm8");
    assert_eq!(b64url(b"foo"), "Zm9v");
    assert_eq!(b64url(b"foobar"), "Zm9vYmFy");
    assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
}

#[tokio::test]
async fn a_valid_token_is_accepted() {
    let key = ec_key("k1");
    let (v, _dir) = verifier(&[&key], None).await;
    let t = token(&key, claims("system:serviceaccount:ns:broker"));
    let sub = v
        .verify(Some(&format!("Bearer {t}")))
        .await
        .expect("accepted");
    assert_eq!(sub.as_deref(), Some("system:serviceaccount:ns:broker"));
}

#[tokio::test]
async fn bad_tokens_are_unauthorized() {
    let key = ec_key("k1");
    let other = ec_key("k1");
    let (v, _dir) = verifier(&[&key], None).await;
    let mut expired = claims("s");
    expired["exp"] = json!(now() - 3600);
    let mut wrong_aud = claims("s");
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_iss = claims("s");
    wrong_iss["iss"] = json!("https://evil.test");
    let mut no_exp = claims("s");
    no_exp.as_object_mut().expect("object").remove("exp");
    let cases = [
        (None, "Authorization"),
        (Some("Basic abc".to_string()), "Authorization"),
        (Some("Bearer not-a-jwt".to_string()), "not a JWT"),
        (Some(format!("Bearer {}", token(&key, expired))), "expired"),
        (
            Some(format!("Bearer {}", token(&key, wrong_aud))),
            "audience",
        ),
        (Some(format!("Bearer {}", token(&key, wrong_iss))), "issuer"),
        (Some(format!("Bearer {}", token(&key, no_exp))), "exp"),
        (
            Some(format!("Bearer {}", token(&other, claims("s")))),
            "signature",
        ),
    ];
    for (header, expect) in cases {
        match v.verify(header.as_deref()).await {
            Err(AuthError::Unauthorized(m)) => assert!(m.contains(expect), "{expect}: {m}"),
            other => panic!("{expect}: expected 401, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn hs256_and_unknown_key_ids_are_refused() {
    let key = ec_key("k1");
    let (v, _dir) = verifier(&[&key], None).await;
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims("s"),
        &EncodingKey::from_secret(b"x"),
    )
    .expect("sign");
    assert!(
        matches!(v.verify(Some(&format!("Bearer {hs}"))).await, Err(AuthError::Unauthorized(m)) if m.contains("HS256"))
    );
    let stranger = ec_key("k9");
    let t = token(&stranger, claims("s"));
    assert!(
        matches!(v.verify(Some(&format!("Bearer {t}"))).await, Err(AuthError::Unauthorized(m)) if m.contains("k9"))
    );
}

#[tokio::test]
async fn subjects_outside_the_allow_list_are_forbidden() {
    let key = ec_key("k1");
    let (v, _dir) = verifier(&[&key], Some(&["system:serviceaccount:ns:broker"])).await;
    let ok = token(&key, claims("system:serviceaccount:ns:broker"));
    assert!(v.verify(Some(&format!("Bearer {ok}"))).await.is_ok());
    let no = token(&key, claims("system:serviceaccount:ns:intruder"));
    assert!(
        matches!(v.verify(Some(&format!("Bearer {no}"))).await, Err(AuthError::Forbidden(m)) if m.contains("intruder"))
    );
}

#[tokio::test]
async fn unreadable_jwks_file_is_a_configuration_error_and_bad_keys_are_skipped() {
    let config = OidcConfig {
        audience: "a".into(),
        issuer: "i".into(),
        jwks: JwksSource::File("/nonexistent/jwks.json".into()),
        allowed_subjects: None,
        refresh: Duration::from_secs(300),
    };
    let e = Verifier::new(config).await.expect_err("missing file");
    assert!(e.contains("OIDC_JWKS_FILE"), "{e}");
    let key = ec_key("good");
    let doc = json!({"keys": [{"kty": "weird"}, {"kty": "oct", "k": "c2VjcmV0"}, key.jwk]});
    let keys = parse_jwks(&serde_json::to_vec(&doc).expect("json")).expect("one usable key");
    assert_eq!(keys.len(), 1);
    assert!(parse_jwks(br#"{"keys": []}"#).is_err());
    assert!(parse_jwks(b"[]").is_err());
}

#[tokio::test]
async fn jwks_url_keys_load_late_and_reload_for_new_key_ids() {
    use axum::routing::get;
    let served: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let router = {
        let served = served.clone();
        axum::Router::new().route(
            "/jwks",
            get(move || {
                let doc = served.lock().expect("lock").clone();
                async move {
                    match doc {
                        Some(d) => (axum::http::StatusCode::OK, d.to_string()),
                        None => (axum::http::StatusCode::SERVICE_UNAVAILABLE, String::new()),
                    }
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    let config = OidcConfig {
        audience: "sink-aud".into(),
        issuer: "https://issuer.test".into(),
        jwks: JwksSource::Url(Url::parse(&url).expect("url")),
        allowed_subjects: None,
        refresh: Duration::from_secs(300),
    };
    // The issuer is not serving yet: not a start error, requests get "keys unavailable" (503).
    let v = Verifier::build(config, Duration::ZERO)
        .await
        .expect("starts without keys");
    let a = ec_key("a");
    let t = token(&a, claims("s"));
    assert!(matches!(
        v.verify(Some(&format!("Bearer {t}"))).await,
        Err(AuthError::KeysUnavailable(_))
    ));
    *served.lock().expect("lock") = Some(json!({"keys": [a.jwk.clone()]}));
    assert_eq!(v.load().await, Ok(1));
    assert!(v.verify(Some(&format!("Bearer {t}"))).await.is_ok());
    // Key rotation: a token with a new key id makes the verifier fetch the JWKS again.
    let b = ec_key("b");
    *served.lock().expect("lock") = Some(json!({"keys": [a.jwk.clone(), b.jwk.clone()]}));
    let t = token(&b, claims("s"));
    assert!(v.verify(Some(&format!("Bearer {t}"))).await.is_ok());
}
