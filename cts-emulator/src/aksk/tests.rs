//! The verifier against the official vectors of cts-api.md §4.2 and the
//! variant-B value of §4.3.

use axum::http::{HeaderMap, HeaderValue};
use chrono::TimeZone;

use super::*;

const AK: &str = "QTWAOYTTINDUT2QVKYUC";
const SK: &str = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
const PATH: &str = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs";
const QUERY: &str = "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0";

fn at(s: &str) -> DateTime<Utc> {
    let n = NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%SZ").expect("date");
    Utc.from_utc_datetime(&n)
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(*k, HeaderValue::from_str(v).expect("header value"));
    }
    h
}

fn guide_headers(auth: &str) -> HeaderMap {
    headers(&[
        ("host", "service.region.example.com"),
        ("content-type", "application/json"),
        ("x-sdk-date", "20191115T033655Z"),
        ("authorization", auth),
    ])
}

fn secret(ak: &str) -> Option<String> {
    match ak {
        AK => Some(SK.to_owned()),
        "AccessKey" => Some("SecretKey".to_owned()),
        "AKEXAMPLE0000000000" => Some("SKEXAMPLE0000000000000000000000000000000".to_owned()),
        _ => None,
    }
}

fn check(
    method: &str,
    path: &str,
    query: Option<&str>,
    h: &HeaderMap,
    body: &[u8],
    now: &str,
) -> Result<String, AkskError> {
    let req = SignedRequest {
        method,
        path,
        query,
        headers: h,
        authority: None,
        body,
    };
    verify(&req, secret, at(now))
}

const GUIDE_A: &str = "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe";
const GUIDE_B: &str = "SDK-HMAC-SHA256 Credential=QTWAOYTTINDUT2QVKYUC/20191115///sdk_request, SignedHeaders=content-type;host;x-sdk-date, Signature=a0f03b56828e2195f3f9f980a128ed757130504ee958dc210add06e9df89f227";

#[test]
fn canonical_request_of_the_signing_guide() {
    assert_eq!(
        canonical_uri(PATH),
        "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/"
    );
    assert!(canonical_queries(Some(QUERY)).contains(&QUERY.to_owned()));
    let h = guide_headers(GUIDE_A);
    let signed = [
        "content-type".to_owned(),
        "host".to_owned(),
        "x-sdk-date".to_owned(),
    ];
    let block = &canonical_headers(&signed, &h, None).expect("headers")[0];
    let canonical = format!(
        "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n{QUERY}\n{block}\ncontent-type;host;x-sdk-date\n{}",
        sha256_hex(b"")
    );
    assert_eq!(
        sha256_hex(canonical.as_bytes()),
        "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    );
}

#[test]
fn official_variant_a_vector_is_accepted() {
    let h = guide_headers(GUIDE_A);
    assert_eq!(
        check("GET", PATH, Some(QUERY), &h, b"", "20191115T033655Z"),
        Ok(AK.to_owned())
    );
    // Query order on the wire does not matter: the canonical form is sorted.
    let reordered = "marker=13551d6b-755d-4757-b956-536f674975c0&limit=2";
    assert_eq!(
        check("GET", PATH, Some(reordered), &h, b"", "20191115T034000Z"),
        Ok(AK.to_owned())
    );
}

#[test]
fn variant_b_value_is_accepted() {
    let h = guide_headers(GUIDE_B);
    assert_eq!(
        check("GET", PATH, Some(QUERY), &h, b"", "20191115T033655Z"),
        Ok(AK.to_owned())
    );
}

#[test]
fn huawei_sdk_vectors_are_accepted() {
    let get = headers(&[
        ("x-sdk-date", "20060102T150405Z"),
        ("authorization", "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"),
    ]);
    assert_eq!(
        check(
            "GET",
            "/path",
            Some("limit=1"),
            &get,
            b"",
            "20060102T150405Z"
        ),
        Ok("AccessKey".to_owned())
    );
    let post = headers(&[
        ("x-sdk-date", "20060102T150405Z"),
        ("authorization", "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"),
    ]);
    let body = b"{\"Name\":\"test\",\"Id\":1}\n";
    assert_eq!(
        check(
            "POST",
            "/path",
            Some("key=value"),
            &post,
            body,
            "20060102T150405Z"
        ),
        Ok("AccessKey".to_owned())
    );
    // Same signature, different body: refused.
    assert_eq!(
        check(
            "POST",
            "/path",
            Some("key=value"),
            &post,
            b"{}",
            "20060102T150405Z"
        ),
        Err(AkskError::Mismatch)
    );
}

#[test]
fn cts_shaped_regression_vector_is_accepted() {
    let h = headers(&[
        ("host", "cts.eu-de.otc.t-systems.com"),
        ("x-project-id", "0391e4486e864c26be5654c522f440f2"),
        ("x-sdk-date", "20231114T230000Z"),
        ("authorization", "SDK-HMAC-SHA256 Access=AKEXAMPLE0000000000, SignedHeaders=host;x-project-id;x-sdk-date, Signature=0427a0f435908f609a099763bb21d88305d1ec09d974dc37f0865c632bdbb467"),
    ]);
    let q = "trace_type=system&limit=200&from=1700000000000&to=1700003600000";
    assert!(check(
        "GET",
        "/v3/0391e4486e864c26be5654c522f440f2/traces",
        Some(q),
        &h,
        b"",
        "20231114T230500Z"
    )
    .is_ok());
}

#[test]
fn host_falls_back_to_the_uri_authority() {
    // On HTTP/2 there is no Host header, only the :authority of the URI.
    let mut h = guide_headers(GUIDE_A);
    h.remove("host");
    let req = SignedRequest {
        method: "GET",
        path: PATH,
        query: Some(QUERY),
        headers: &h,
        authority: Some("service.region.example.com"),
        body: b"",
    };
    assert_eq!(
        verify(&req, secret, at("20191115T033655Z")),
        Ok(AK.to_owned())
    );
    let req = SignedRequest {
        authority: None,
        ..req
    };
    assert!(
        matches!(verify(&req, secret, at("20191115T033655Z")), Err(AkskError::Malformed(m)) if m.contains("`host`"))
    );
}

#[test]
fn tampering_is_refused() {
    let h = guide_headers(GUIDE_A);
    let other = "limit=3&marker=13551d6b-755d-4757-b956-536f674975c0";
    assert_eq!(
        check("GET", PATH, Some(other), &h, b"", "20191115T033655Z"),
        Err(AkskError::Mismatch)
    );
    assert_eq!(
        check("DELETE", PATH, Some(QUERY), &h, b"", "20191115T033655Z"),
        Err(AkskError::Mismatch)
    );
    assert_eq!(
        check(
            "GET",
            "/v1/other/vpcs",
            Some(QUERY),
            &h,
            b"",
            "20191115T033655Z"
        ),
        Err(AkskError::Mismatch)
    );
    let wrong_host = headers(&[
        ("host", "evil.example.com"),
        ("content-type", "application/json"),
        ("x-sdk-date", "20191115T033655Z"),
        ("authorization", GUIDE_A),
    ]);
    assert_eq!(
        check(
            "GET",
            PATH,
            Some(QUERY),
            &wrong_host,
            b"",
            "20191115T033655Z"
        ),
        Err(AkskError::Mismatch)
    );
}

#[test]
fn skew_beyond_fifteen_minutes_is_refused() {
    let h = guide_headers(GUIDE_A);
    assert!(
        check("GET", PATH, Some(QUERY), &h, b"", "20191115T035155Z").is_ok(),
        "exactly 15 min is fine"
    );
    let err =
        check("GET", PATH, Some(QUERY), &h, b"", "20191115T035156Z").expect_err("16 min late");
    assert!(matches!(err, AkskError::Expired { .. }));
    assert!(err.to_string().contains(
        "signature expired, signature time:20191115T033655Z,server time:20191115T035156Z"
    ));
    assert!(
        check("GET", PATH, Some(QUERY), &h, b"", "20191115T032000Z").is_err(),
        "16 min early"
    );
}

#[test]
fn structural_problems_are_named() {
    let unknown = guide_headers(&GUIDE_A.replace(AK, "NOSUCHKEY"));
    let err =
        check("GET", PATH, Some(QUERY), &unknown, b"", "20191115T033655Z").expect_err("unknown ak");
    assert!(err.to_string().contains("ak:NOSUCHKEY,err:ak not exist"));
    let no_date_signed =
        guide_headers(&GUIDE_A.replace("content-type;host;x-sdk-date", "content-type;host"));
    assert!(matches!(
        check(
            "GET",
            PATH,
            Some(QUERY),
            &no_date_signed,
            b"",
            "20191115T033655Z"
        ),
        Err(AkskError::Date(_))
    ));
    let garbage = guide_headers("SDK-HMAC-SHA256 nonsense");
    assert!(matches!(
        check("GET", PATH, Some(QUERY), &garbage, b"", "20191115T033655Z"),
        Err(AkskError::Malformed(_))
    ));
    let bad_scope = guide_headers(&GUIDE_B.replace("20191115///", "20191114///"));
    assert!(matches!(
        check(
            "GET",
            PATH,
            Some(QUERY),
            &bad_scope,
            b"",
            "20191115T033655Z"
        ),
        Err(AkskError::Malformed(_))
    ));
}

#[test]
fn query_encoding_is_normalized() {
    let q = canonical_queries(Some("b=x%20y&a=%E4%B8%80&c=1+2"));
    assert!(
        q.contains(&"a=%E4%B8%80&b=x%20y&c=1%202".to_owned()),
        "{q:?}"
    );
    assert!(
        q.contains(&"a=%E4%B8%80&b=x%20y&c=1%2B2".to_owned()),
        "{q:?}"
    );
    assert_eq!(canonical_queries(None), vec![String::new()]);
    let rep = canonical_queries(Some("multi=2&multi=1"));
    assert!(
        rep.contains(&"multi=1&multi=2".to_owned()) && rep.contains(&"multi=2".to_owned()),
        "{rep:?}"
    );
    assert_eq!(canonical_uri("/a%20b/c"), "/a%20b/c/");
    assert_eq!(canonical_uri("/"), "/");
}
