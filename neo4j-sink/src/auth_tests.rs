//! Unit tests of token verification with ES256 keys made in the test, the
//! RFC 7515 A.3 example, and tokens signed here with ring directly (for
//! headers jsonwebtoken cannot write, such as `crit`).

use super::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::json;
use std::path::Path;
use std::sync::Mutex;

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

/// A token with any header, signed with ring (not jsonwebtoken).
fn raw_token(key: &EcKey, header: &Value, claims: &Value) -> String {
    let rng = SystemRandom::new();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.pkcs8, &rng).expect("pair");
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let signature = pair.sign(&rng, input.as_bytes()).expect("sign");
    format!("{input}.{}", b64url(signature.as_ref()))
}

fn now_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims(sub: &str) -> Value {
    json!({"iss": "https://issuer.test", "aud": "sink-aud", "sub": sub, "exp": now_secs() + 600, "iat": now_secs()})
}

fn jwks(keys: &[&EcKey]) -> Vec<u8> {
    serde_json::to_vec(&json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}))
        .expect("json")
}

fn config(jwks: JwksSource, allowed: Option<&[&str]>, min_reload: Duration) -> OidcConfig {
    OidcConfig {
        audience: "sink-aud".into(),
        issuer: "https://issuer.test".into(),
        jwks,
        allowed_subjects: allowed.map(|a| a.iter().map(|s| s.to_string()).collect()),
        refresh: Duration::from_secs(300),
        min_reload,
    }
}

struct Fixture {
    v: Arc<Verifier>,
    metrics: Metrics,
    path: PathBuf,
    _dir: tempfile::TempDir,
}

async fn fixture(keys: &[&EcKey], allowed: Option<&[&str]>, min_reload: Duration) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, jwks(keys)).expect("write");
    let metrics = Metrics::new().expect("metrics");
    let v = Verifier::new(
        config(JwksSource::File(path.clone()), allowed, min_reload),
        metrics.clone(),
    )
    .await
    .expect("verifier");
    Fixture {
        v,
        metrics,
        path,
        _dir: dir,
    }
}

async fn verifier(keys: &[&EcKey], allowed: Option<&[&str]>) -> Fixture {
    fixture(keys, allowed, Duration::from_secs(10)).await
}

/// Replaces the key file the way a ConfigMap update does: a new file renamed over the old one.
fn replace(path: &Path, bytes: &[u8]) {
    let next = path.with_extension("next");
    std::fs::write(&next, bytes).expect("write");
    std::fs::rename(&next, path).expect("rename");
}

async fn refused(v: &Verifier, token: &str) -> AuthError {
    v.verify(Some(&format!("Bearer {token}")))
        .await
        .expect_err("refused")
}

#[test]
fn base64url_matches_rfc4648_vectors() {
    assert_eq!(b64url(b"f"), "Zg");
    assert_eq!(b64url(b"fo"), "Zm8");
    assert_eq!(b64url(b"foo"), "Zm9v");
    assert_eq!(b64url(b"foobar"), "Zm9vYmFy");
    assert_eq!(b64url(&[0xfb, 0xff]), "-_8");
    for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
        assert_eq!(
            b64url_decode(&b64url(text.as_bytes())).as_deref(),
            Some(text.as_bytes())
        );
    }
    assert_eq!(b64url_decode("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
    // Padding, the standard alphabet, a dangling character and unused bits that are not zero.
    for bad in ["Zg==", "+/8", "Zm9vY", "Zh", "Zm9", "Zm 9v", "Zé"] {
        assert_eq!(b64url_decode(bad), None, "{bad}");
    }
}

#[tokio::test]
async fn a_valid_token_is_accepted() {
    let key = ec_key("k1");
    let f = verifier(&[&key], None).await;
    let t = token(&key, claims("system:serviceaccount:ns:broker"));
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let sub =
            f.v.verify(Some(&format!("{scheme} {t}")))
                .await
                .expect("accepted");
        assert_eq!(sub.as_deref(), Some("system:serviceaccount:ns:broker"));
    }
    // Signed by ring rather than jsonwebtoken, with a fractional exp and an array audience.
    let mut c = claims("s");
    c["exp"] = json!(now_secs() as f64 + 600.5);
    c["aud"] = json!(["other", "sink-aud"]);
    let t = raw_token(
        &key,
        &json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}),
        &c,
    );
    assert!(f.v.verify(Some(&format!("Bearer {t}"))).await.is_ok());
    assert_eq!(f.metrics.auth_keys.get(), 1);
    assert_eq!(
        f.metrics
            .auth_refused
            .with_label_values(&["signature"])
            .get(),
        0
    );
}

#[tokio::test]
async fn bad_tokens_are_unauthorized_with_the_reason_counted() {
    let key = ec_key("k1");
    let other = ec_key("k1");
    let f = verifier(&[&key], None).await;
    let mut expired = claims("s");
    expired["exp"] = json!(now_secs() - 3600);
    let mut wrong_aud = claims("s");
    wrong_aud["aud"] = json!("someone-else");
    let mut wrong_aud_list = claims("s");
    wrong_aud_list["aud"] = json!(["a", "b"]);
    let mut wrong_iss = claims("s");
    wrong_iss["iss"] = json!("https://evil.test");
    let mut no_exp = claims("s");
    no_exp.as_object_mut().expect("object").remove("exp");
    let mut no_aud = claims("s");
    no_aud.as_object_mut().expect("object").remove("aud");
    let mut text_exp = claims("s");
    text_exp["exp"] = json!("tomorrow");
    let mut number_sub = claims("s");
    number_sub["sub"] = json!(7);
    let bearer = |t: String| Some(format!("Bearer {t}"));
    let cases = [
        (None, Reason::MissingToken, "Authorization"),
        (
            Some("Basic abc".to_string()),
            Reason::MissingToken,
            "Authorization",
        ),
        (
            Some("Bearer ".to_string()),
            Reason::MissingToken,
            "Authorization",
        ),
        (bearer("not-a-jwt".into()), Reason::Malformed, "not a JWT"),
        (bearer("a.b.c.d.e".into()), Reason::Malformed, "JWE"),
        (bearer("ä.b.c".into()), Reason::Malformed, "header"),
        (
            bearer(format!("{}.e30.", b64url(b"[1]"))),
            Reason::Malformed,
            "header",
        ),
        (
            bearer(format!("{}.!!.x", b64url(br#"{"alg":"ES256","kid":"k1"}"#))),
            Reason::Malformed,
            "not valid base64url",
        ),
        (
            bearer(format!("{}.e30.x", b64url(br#"{"alg":"ES256","kid":7}"#))),
            Reason::Malformed,
            "kid",
        ),
        (bearer(token(&key, expired)), Reason::Expired, "expired"),
        (bearer(token(&key, wrong_aud)), Reason::Audience, "audience"),
        (
            bearer(token(&key, wrong_aud_list)),
            Reason::Audience,
            "audience",
        ),
        (bearer(token(&key, wrong_iss)), Reason::Issuer, "issuer"),
        (bearer(token(&key, no_exp)), Reason::Claims, "exp"),
        (bearer(token(&key, no_aud)), Reason::Claims, "aud"),
        (bearer(token(&key, text_exp)), Reason::Claims, "NumericDate"),
        (bearer(token(&key, number_sub)), Reason::Claims, "sub"),
        (
            bearer(token(&other, claims("s"))),
            Reason::Signature,
            "signature",
        ),
    ];
    for (header, reason, expect) in &cases {
        let e = f.v.verify(header.as_deref()).await.expect_err(expect);
        assert_eq!(e.reason, *reason, "{expect}: {e}");
        assert!(e.detail.contains(expect), "{expect}: {e}");
    }
    for reason in [Reason::Malformed, Reason::Claims, Reason::MissingToken] {
        let n = cases.iter().filter(|c| c.1 == reason).count() as u64;
        assert_eq!(
            f.metrics
                .auth_refused
                .with_label_values(&[reason.label()])
                .get(),
            n,
            "{reason:?}"
        );
    }
}

#[tokio::test]
async fn other_algorithms_are_refused() {
    let key = ec_key("k1");
    let f = verifier(&[&key], None).await;
    let hs = encode(
        &Header::new(Algorithm::HS256),
        &claims("s"),
        &EncodingKey::from_secret(b"x"),
    )
    .expect("sign");
    let e = refused(&f.v, &hs).await;
    assert_eq!(e.reason, Reason::Algorithm);
    assert!(e.detail.contains("HS256"), "{e}");
    let none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none"}"#),
        b64url(claims("s").to_string().as_bytes())
    );
    let e = refused(&f.v, &none).await;
    assert_eq!(e.reason, Reason::Algorithm);
    assert!(e.detail.contains("\"none\""), "{e}");
    // A token naming a loaded key with another algorithm is refused for good.
    let rs = raw_token(&key, &json!({"alg": "RS256", "kid": "k1"}), &claims("s"));
    let e = refused(&f.v, &rs).await;
    assert_eq!(e.reason, Reason::Algorithm);
    assert!(e.detail.contains("\"k1\" is an ES256 key"), "{e}");
    // Without a kid there is no RS256 key to try: maybe one not loaded yet.
    let rs = raw_token(&key, &json!({"alg": "RS256"}), &claims("s"));
    assert_eq!(refused(&f.v, &rs).await.reason, Reason::UnknownKey);
}

#[tokio::test]
async fn crit_headers_are_refused_rfc7515_4_1_11() {
    let key = ec_key("k1");
    let f = verifier(&[&key], None).await;
    let c = claims("s");
    // The same signer without `crit` is accepted: the refusals below are about `crit`.
    let plain = raw_token(&key, &json!({"alg": "ES256", "kid": "k1"}), &c);
    assert!(f.v.verify(Some(&format!("Bearer {plain}"))).await.is_ok());
    let cases = [
        (
            json!({"alg": "ES256", "kid": "k1", "crit": ["exp"], "exp": 1_363_284_000}),
            "does not understand",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": ["b64"], "b64": false}),
            "\"b64\"",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": []}),
            "empty list",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": ["alg"]}),
            "registered",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": ["kid"]}),
            "registered",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": ["x5t#S256"], "x5t#S256": "a"}),
            "registered",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": ["ext"]}),
            "not in the header",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": ["ext", "ext"], "ext": 1}),
            "twice",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": "ext", "ext": 1}),
            "not a list",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": [1]}),
            "not a header parameter name",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": null}),
            "not a list",
        ),
        (
            json!({"alg": "ES256", "kid": "k1", "crit": ["ünïcødé"], "ünïcødé": true}),
            "does not understand",
        ),
    ];
    for (header, expect) in &cases {
        let t = raw_token(&key, header, &c);
        let e = refused(&f.v, &t).await;
        assert_eq!(e.reason, Reason::Crit, "{header}: {e}");
        assert!(e.detail.contains(expect), "{header}: {e}");
        assert!(e.detail.contains("RFC 7515"), "{e}");
    }
    // RFC 7515 appendix E: a header that must be refused for its unknown critical extension.
    let appendix_e = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","crit":["http://example.invalid/UNDEFINED"],"http://example.invalid/UNDEFINED":true}"#),
        b64url(b"{}")
    );
    assert_eq!(refused(&f.v, &appendix_e).await.reason, Reason::Crit);
    assert_eq!(
        f.metrics.auth_refused.with_label_values(&["crit"]).get(),
        cases.len() as u64 + 1
    );
}

#[tokio::test]
async fn rfc7515_a3_example_verifies_and_is_then_refused_as_expired() {
    // RFC 7515 appendix A.3: an ES256 JWS and the public key that made it.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    let jwk = json!({"kty": "EC", "crv": "P-256",
                     "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                     "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
    std::fs::write(&path, json!({"keys": [jwk]}).to_string()).expect("write");
    let mut c = config(JwksSource::File(path), None, Duration::from_secs(10));
    c.issuer = "joe".into();
    let v = Verifier::new(c, Metrics::new().expect("metrics"))
        .await
        .expect("verifier");
    let input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let signature =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    // The claims are checked only after the signature verified: expired (2011), not "signature".
    let e = refused(&v, &format!("{input}.{signature}")).await;
    assert_eq!(e.reason, Reason::Expired, "{e}");
    let mut flipped = b64url_decode(signature).expect("base64url");
    flipped[10] ^= 1;
    let e = refused(&v, &format!("{input}.{}", b64url(&flipped))).await;
    assert_eq!(e.reason, Reason::Signature, "{e}");
}

#[tokio::test]
async fn nbf_and_exp_follow_rfc7519_with_the_same_leeway() {
    let key = ec_key("k1");
    let f = verifier(&[&key], None).await;
    let base = || {
        json!({"iss": "https://issuer.test", "aud": "sink-aud", "exp": 2000})
            .as_object()
            .cloned()
            .expect("object")
    };
    // exp: valid while now < exp + leeway.
    assert!(f.v.check_claims(&base(), 2000.0 + LEEWAY - 0.1).is_ok());
    assert_eq!(
        f.v.check_claims(&base(), 2000.0 + LEEWAY)
            .map_err(|e| e.reason),
        Err(Reason::Expired)
    );
    // nbf: valid once now + leeway >= nbf.
    let mut c = base();
    c.insert("nbf".into(), json!(1500.5));
    assert!(f.v.check_claims(&c, 1500.5 - LEEWAY).is_ok());
    assert_eq!(
        f.v.check_claims(&c, 1500.5 - LEEWAY - 0.01)
            .map_err(|e| e.reason),
        Err(Reason::NotYetValid)
    );
    for bad in [json!("1500"), json!(null), json!([1]), json!(true)] {
        c.insert("nbf".into(), bad.clone());
        assert_eq!(
            f.v.check_claims(&c, 1600.0).map_err(|e| e.reason),
            Err(Reason::Claims),
            "{bad}"
        );
    }
    // Through verify, with real tokens and the real clock.
    let mut soon = claims("s");
    soon["nbf"] = json!(now_secs() + 10);
    assert!(f
        .v
        .verify(Some(&format!("Bearer {}", token(&key, soon))))
        .await
        .is_ok());
    let mut later = claims("s");
    later["nbf"] = json!(now_secs() + 120);
    let e = refused(&f.v, &token(&key, later)).await;
    assert_eq!(e.reason, Reason::NotYetValid, "{e}");
    let mut just_expired = claims("s");
    just_expired["exp"] = json!(now_secs() - 10);
    assert!(f
        .v
        .verify(Some(&format!("Bearer {}", token(&key, just_expired))))
        .await
        .is_ok());
    assert_eq!(
        f.metrics
            .auth_refused
            .with_label_values(&["not_yet_valid"])
            .get(),
        1
    );
}

#[tokio::test]
async fn subjects_outside_the_allow_list_are_forbidden() {
    let key = ec_key("k1");
    let f = verifier(&[&key], Some(&["system:serviceaccount:ns:broker"])).await;
    let ok = token(&key, claims("system:serviceaccount:ns:broker"));
    assert!(f.v.verify(Some(&format!("Bearer {ok}"))).await.is_ok());
    let no = token(&key, claims("system:serviceaccount:ns:intruder"));
    let e = refused(&f.v, &no).await;
    assert_eq!(e.reason, Reason::Subject);
    assert!(e.detail.contains("intruder"), "{e}");
    let huge = token(&key, claims(&"ü".repeat(100_000)));
    let e = refused(&f.v, &huge).await;
    assert_eq!(e.reason, Reason::Subject);
    assert!(
        e.detail.len() < 300,
        "the subject is cut short: {}",
        e.detail.len()
    );
}

#[tokio::test]
async fn unreadable_jwks_file_is_a_configuration_error_and_bad_keys_are_skipped() {
    let metrics = Metrics::new().expect("metrics");
    let e = Verifier::new(
        config(
            JwksSource::File("/nonexistent/jwks.json".into()),
            None,
            Duration::from_secs(10),
        ),
        metrics.clone(),
    )
    .await
    .expect_err("missing file");
    assert!(e.contains("OIDC_JWKS_FILE"), "{e}");
    let key = ec_key("good");
    let doc = json!({"keys": [{"kty": "weird"}, {"kty": "oct", "k": "c2VjcmV0"}, key.jwk,
                              {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]});
    let set = parse_jwks(&serde_json::to_vec(&doc).expect("json")).expect("one usable key");
    assert_eq!((set.keys.len(), set.skipped), (1, 3));
    // A readable key set without keys is "no keys", not an error.
    for empty in [&b""[..], b"  \n", br#"{"keys": []}"#] {
        assert_eq!(parse_jwks(empty).map(|s| s.keys.len()), Ok(0));
    }
    for broken in [&b"[]"[..], b"{", b"{\"keys\": {}}", b"\xff\xfe", b"null"] {
        assert!(parse_jwks(broken).is_err(), "{broken:?}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; MAX_JWKS_BYTES as usize + 1]).expect("write");
    let e = Verifier::new(
        config(JwksSource::File(big), None, Duration::from_secs(10)),
        metrics,
    )
    .await
    .expect_err("too big");
    assert!(e.contains("larger than"), "{e}");
}

#[tokio::test]
async fn a_removed_key_is_refused_after_the_next_reload() {
    let (k1, k2) = (ec_key("k1"), ec_key("k2"));
    let f = verifier(&[&k1, &k2], None).await;
    let (t1, t2) = (token(&k1, claims("s")), token(&k2, claims("s")));
    assert!(f.v.verify(Some(&format!("Bearer {t1}"))).await.is_ok());
    replace(&f.path, &jwks(&[&k2]));
    assert_eq!(f.v.load().await, Ok(1));
    let e = refused(&f.v, &t1).await;
    assert_eq!(e.reason, Reason::UnknownKey, "{e}");
    assert!(f.v.verify(Some(&format!("Bearer {t2}"))).await.is_ok());
    assert_eq!(f.metrics.auth_keys.get(), 1);
    assert_eq!(f.metrics.auth_keys_stale.get(), 0);
}

#[tokio::test]
async fn an_empty_key_file_means_no_keys_and_every_token_gets_503() {
    let k1 = ec_key("k1");
    let f = verifier(&[&k1], None).await;
    let t1 = token(&k1, claims("s"));
    for empty in [&b""[..], br#"{"keys": []}"#] {
        replace(&f.path, empty);
        assert_eq!(f.v.load().await, Ok(0));
        let e = refused(&f.v, &t1).await;
        assert_eq!(e.reason, Reason::UnknownKey, "{e}");
        assert!(e.retry_after.is_some_and(|d| d >= Duration::from_secs(1)));
        assert_eq!(f.metrics.auth_keys.get(), 0);
        assert_eq!(
            f.metrics.auth_keys_stale.get(),
            0,
            "a readable file is not stale"
        );
    }
    // A key file that is empty at start is no start error either.
    let f = verifier(&[], None).await;
    assert_eq!(refused(&f.v, &t1).await.reason, Reason::UnknownKey);
}

#[tokio::test]
async fn a_broken_or_missing_key_file_keeps_the_last_good_keys_and_says_so() {
    let (k1, k3) = (ec_key("k1"), ec_key("k3"));
    let f = verifier(&[&k1], None).await;
    let t1 = token(&k1, claims("s"));
    for (what, broken) in [
        ("not JSON", Some(&b"{\"keys\": [ tr"[..])),
        ("no keys array", Some(b"{\"kty\": \"EC\"}")),
        ("deleted", None),
    ] {
        match broken {
            Some(bytes) => replace(&f.path, bytes),
            None => std::fs::remove_file(&f.path).expect("remove"),
        }
        assert!(f.v.load().await.is_err(), "{what}");
        assert!(
            f.v.verify(Some(&format!("Bearer {t1}"))).await.is_ok(),
            "{what}: the last good keys are kept"
        );
        assert_eq!(f.metrics.auth_keys_stale.get(), 1, "{what}");
        assert_eq!(f.metrics.auth_keys.get(), 1, "{what}");
    }
    assert_eq!(
        f.metrics
            .auth_key_reloads
            .with_label_values(&["failed"])
            .get(),
        3
    );
    // Readable again: the new set replaces the kept one, and the metric clears.
    replace(&f.path, &jwks(&[&k3]));
    assert_eq!(f.v.load().await, Ok(1));
    assert_eq!(f.metrics.auth_keys_stale.get(), 0);
    assert_eq!(refused(&f.v, &t1).await.reason, Reason::UnknownKey);
    assert!(f
        .v
        .verify(Some(&format!("Bearer {}", token(&k3, claims("s")))))
        .await
        .is_ok());
}

#[tokio::test]
async fn an_unknown_key_id_rereads_the_key_file_at_most_once_per_interval() {
    let (k1, k2) = (ec_key("k1"), ec_key("k2"));
    let t2 = token(&k2, claims("s"));
    let loaded = |f: &Fixture| {
        f.metrics
            .auth_key_reloads
            .with_label_values(&["loaded"])
            .get()
    };
    // Rotation: the issuer signs with k2 before the file has it.
    let f = fixture(&[&k1], None, Duration::from_secs(60)).await;
    let e = refused(&f.v, &t2).await;
    assert_eq!(e.reason, Reason::UnknownKey);
    // Within the interval of the start's load: no reload, still unknown, and
    // the Retry-After says when the next reload may happen.
    replace(&f.path, &jwks(&[&k1, &k2]));
    let e = refused(&f.v, &t2).await;
    assert_eq!(e.reason, Reason::UnknownKey);
    let after = e.retry_after.expect("retry after");
    assert!(
        after > Duration::from_secs(50) && after <= Duration::from_secs(60),
        "{after:?}"
    );
    assert_eq!(loaded(&f), 1, "only the start's load");
    // Once the interval has passed, the unknown key id makes the verifier re-read the file.
    let f = fixture(&[&k1], None, Duration::from_secs(1)).await;
    replace(&f.path, &jwks(&[&k1, &k2]));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(f.v.verify(Some(&format!("Bearer {t2}"))).await.is_ok());
    assert_eq!(loaded(&f), 2);
    // A token that can never pass does not cause a reload: 401 right away.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut c = claims("s");
    c["aud"] = json!("elsewhere");
    let e = refused(&f.v, &token(&ec_key("k9"), c)).await;
    assert_eq!(e.reason, Reason::Audience);
    assert_eq!(loaded(&f), 2);
}

/// A JWKS URL served by the test: the document (or 503), a hit counter and a delay.
struct Issuer {
    url: Url,
    served: Arc<Mutex<Option<Value>>>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
}

async fn issuer(delay: Duration) -> Issuer {
    use axum::routing::get;
    let served: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let router = {
        let (served, hits) = (served.clone(), hits.clone());
        axum::Router::new().route(
            "/jwks",
            get(move || {
                hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let doc = served.lock().expect("lock").clone();
                async move {
                    tokio::time::sleep(delay).await;
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
    Issuer {
        url: Url::parse(&url).expect("url"),
        served,
        hits,
    }
}

#[tokio::test]
async fn jwks_url_keys_load_late_and_reload_for_new_key_ids() {
    let issuer = issuer(Duration::ZERO).await;
    let metrics = Metrics::new().expect("metrics");
    // The issuer is not serving yet: not a start error, requests get "keys unavailable" (503).
    let v = Verifier::new(
        config(JwksSource::Url(issuer.url.clone()), None, Duration::ZERO),
        metrics.clone(),
    )
    .await
    .expect("starts without keys");
    assert_eq!(metrics.auth_keys_stale.get(), 1);
    let a = ec_key("a");
    let t = token(&a, claims("s"));
    let e = refused(&v, &t).await;
    assert_eq!(e.reason, Reason::KeysUnavailable, "{e}");
    assert!(e.detail.contains("503"), "{e}");
    // The keys appear: the next token with an unknown key loads them, no refresh needed.
    *issuer.served.lock().expect("lock") = Some(json!({"keys": [a.jwk.clone()]}));
    assert!(v.verify(Some(&format!("Bearer {t}"))).await.is_ok());
    assert_eq!(metrics.auth_keys_stale.get(), 0);
    // Key rotation: a token with a new key id makes the verifier fetch the JWKS again.
    let b = ec_key("b");
    *issuer.served.lock().expect("lock") = Some(json!({"keys": [a.jwk.clone(), b.jwk.clone()]}));
    let t = token(&b, claims("s"));
    assert!(v.verify(Some(&format!("Bearer {t}"))).await.is_ok());
    // An endless or huge answer is cut off: the keys are kept, the gauge says stale.
    let pad = "x".repeat(MAX_JWKS_BYTES as usize);
    *issuer.served.lock().expect("lock") = Some(json!({"keys": [], "pad": pad}));
    let e = v.load().await.expect_err("too large");
    assert!(e.contains("larger than"), "{e}");
    assert_eq!(metrics.auth_keys_stale.get(), 1);
    assert!(v.verify(Some(&format!("Bearer {t}"))).await.is_ok());
    // A server error is unreadable too; an empty set served is "no keys".
    *issuer.served.lock().expect("lock") = None;
    assert!(v.load().await.is_err());
    assert!(v.verify(Some(&format!("Bearer {t}"))).await.is_ok());
    *issuer.served.lock().expect("lock") = Some(json!({"keys": []}));
    assert_eq!(v.load().await, Ok(0));
    assert_eq!(metrics.auth_keys_stale.get(), 0);
    assert_eq!(refused(&v, &t).await.reason, Reason::UnknownKey);
}

#[tokio::test]
async fn concurrent_tokens_with_the_same_unknown_key_cause_one_reload() {
    let (a, b) = (ec_key("a"), ec_key("b"));
    // A slow issuer, and no interval: only the one-at-a-time rule prevents a storm.
    let issuer = issuer(Duration::from_millis(300)).await;
    *issuer.served.lock().expect("lock") = Some(json!({"keys": [a.jwk.clone()]}));
    let v = Verifier::new(
        config(JwksSource::Url(issuer.url.clone()), None, Duration::ZERO),
        Metrics::new().expect("metrics"),
    )
    .await
    .expect("verifier");
    assert_eq!(issuer.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
    *issuer.served.lock().expect("lock") = Some(json!({"keys": [a.jwk.clone(), b.jwk.clone()]}));
    let t = format!("Bearer {}", token(&b, claims("s")));
    let results = futures::future::join_all((0..64).map(|_| v.verify(Some(&t)))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(issuer.hits.load(std::sync::atomic::Ordering::SeqCst), 2);
    // A key that does not come: every request 503, still one fetch for the lot.
    let c = ec_key("c");
    let t = format!("Bearer {}", token(&c, claims("s")));
    let results = futures::future::join_all((0..64).map(|_| v.verify(Some(&t)))).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(e) if e.reason == Reason::UnknownKey)),
        "{results:?}"
    );
    assert_eq!(issuer.hits.load(std::sync::atomic::Ordering::SeqCst), 3);
    // With an interval, a flood of made-up key ids fetches nothing at all.
    let v = Verifier::new(
        config(
            JwksSource::Url(issuer.url.clone()),
            None,
            Duration::from_secs(60),
        ),
        Metrics::new().expect("metrics"),
    )
    .await
    .expect("verifier");
    let before = issuer.hits.load(std::sync::atomic::Ordering::SeqCst);
    for i in 0..50 {
        let t = token(&ec_key(&format!("made-up-{i}")), claims("s"));
        assert_eq!(refused(&v, &t).await.reason, Reason::UnknownKey);
    }
    assert_eq!(
        issuer.hits.load(std::sync::atomic::Ordering::SeqCst),
        before
    );
}

#[tokio::test]
async fn hostile_key_ids_are_matched_exactly_and_cut_short_in_messages() {
    let unicode = ec_key("schlüssel-🔑-名前");
    let f = verifier(&[&unicode], None).await;
    assert!(f
        .v
        .verify(Some(&format!("Bearer {}", token(&unicode, claims("s")))))
        .await
        .is_ok());
    let huge = ec_key(&"ü".repeat(50_000));
    let e = refused(&f.v, &token(&huge, claims("s"))).await;
    assert_eq!(e.reason, Reason::UnknownKey);
    assert!(e.detail.len() < 400, "{}", e.detail.len());
    for kid in [
        "",
        "schlüssel-🔑",
        "SCHLÜSSEL-🔑-名前",
        "schlüssel-🔑-名前 ",
    ] {
        let t = token(&ec_key(kid), claims("s"));
        assert_eq!(
            refused(&f.v, &t).await.reason,
            Reason::UnknownKey,
            "{kid:?}"
        );
    }
}

#[tokio::test]
async fn every_one_character_change_of_a_valid_token_is_refused() {
    let key = ec_key("k1");
    let f = verifier(&[&key], None).await;
    let good = token(&key, claims("s"));
    assert!(f.v.verify(Some(&format!("Bearer {good}"))).await.is_ok());
    let mut tried = 0;
    for (i, original) in good.char_indices() {
        for replacement in ['A', 'x', '-', '.', '=', 'é'] {
            if replacement == original {
                continue;
            }
            let mut mutated = good.clone();
            mutated.replace_range(i..i + original.len_utf8(), &replacement.to_string());
            tried += 1;
            assert!(
                f.v.verify(Some(&format!("Bearer {mutated}")))
                    .await
                    .is_err(),
                "accepted with {replacement:?} at {i}"
            );
        }
    }
    // Cut short, doubled, and garbage of every kind.
    for cut in 0..good.len() {
        assert!(f
            .v
            .verify(Some(&format!("Bearer {}", &good[..cut])))
            .await
            .is_err());
    }
    for junk in [
        format!("{good}{good}"),
        format!("{good}."),
        ".".repeat(10_000),
        "\u{0}".repeat(100),
        "ü.ü.ü".into(),
        "a".repeat(1 << 20),
    ] {
        assert!(f.v.verify(Some(&format!("Bearer {junk}"))).await.is_err());
    }
    assert!(tried > 1000, "{tried}");
}
