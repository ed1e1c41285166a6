//! Published vectors (cts-api.md §4.2) and properties of the canonical request.

use chrono::TimeZone;
use http::{HeaderMap, HeaderValue, Method};

use super::*;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .expect("valid time")
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).expect("header value"));
    }
    h
}

#[test]
fn official_signing_guide_example() {
    let url = url::Url::parse(
        "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
    )
    .expect("url");
    let h = headers(&[
        ("content-type", "application/json"),
        ("host", "service.region.example.com"),
    ]);
    let req = SignableRequest {
        method: &Method::GET,
        url: &url,
        headers: &h,
        body: b"",
    };
    let (canonical, _) = canonical_request(&req, "20191115T033655Z");
    assert_eq!(
        canonical,
        "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\nlimit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n\
         content-type:application/json\nhost:service.region.example.com\nx-sdk-date:20191115T033655Z\n\n\
         content-type;host;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex::encode(Sha256::digest(canonical.as_bytes())),
        "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    );
    let sig = sign(
        &req,
        "QTWAOYTTINDUT2QVKYUC",
        &Secret::new("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"),
        at(2019, 11, 15, 3, 36, 55),
    );
    assert_eq!(sig.x_sdk_date, "20191115T033655Z");
    assert_eq!(
        sig.authorization,
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, \
         Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    );
}

#[test]
fn huaweicloud_sdk_get_vector() {
    let url = url::Url::parse("https://example.huaweicloud.com/path?limit=1").expect("url");
    let h = HeaderMap::new();
    let req = SignableRequest {
        method: &Method::GET,
        url: &url,
        headers: &h,
        body: b"",
    };
    let (canonical, signed) = canonical_request(&req, "20060102T150405Z");
    assert_eq!(
        canonical,
        "GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(signed, "x-sdk-date");
    let sig = sign(
        &req,
        "AccessKey",
        &Secret::new("SecretKey"),
        at(2006, 1, 2, 15, 4, 5),
    );
    assert_eq!(
        sig.signature,
        "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
    );
}

#[test]
fn huaweicloud_sdk_post_vector() {
    let url = url::Url::parse("https://example.huaweicloud.com/path?key=value").expect("url");
    let h = HeaderMap::new();
    let body = b"{\"Name\":\"test\",\"Id\":1}\n";
    let req = SignableRequest {
        method: &Method::POST,
        url: &url,
        headers: &h,
        body,
    };
    let sig = sign(
        &req,
        "AccessKey",
        &Secret::new("SecretKey"),
        at(2006, 1, 2, 15, 4, 5),
    );
    assert_eq!(
        sig.signature,
        "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
    );
    assert_eq!(
        sig.authorization,
        "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, \
         Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"
    );
}

#[test]
fn cts_shaped_regression_vector() {
    let url = url::Url::parse(
        "https://cts.eu-de.otc.t-systems.com/v3/0391e4486e864c26be5654c522f440f2/traces?trace_type=system&limit=200&from=1700000000000&to=1700003600000",
    )
    .expect("url");
    let h = headers(&[
        ("host", "cts.eu-de.otc.t-systems.com"),
        ("x-project-id", "0391e4486e864c26be5654c522f440f2"),
    ]);
    let req = SignableRequest {
        method: &Method::GET,
        url: &url,
        headers: &h,
        body: b"",
    };
    let (canonical, _) = canonical_request(&req, "20231114T230000Z");
    assert!(
        canonical.contains("\nfrom=1700000000000&limit=200&to=1700003600000&trace_type=system\n")
    );
    let sig = sign(
        &req,
        "AKEXAMPLE0000000000",
        &Secret::new("SKEXAMPLE0000000000000000000000000000000"),
        at(2023, 11, 14, 23, 0, 0),
    );
    assert_eq!(sig.signed_headers, "host;x-project-id;x-sdk-date");
    assert_eq!(
        sig.signature,
        "0427a0f435908f609a099763bb21d88305d1ec09d974dc37f0865c632bdbb467"
    );
}

#[test]
fn canonical_query_matches_huaweicloud_sdk_expectation() {
    let mut url = url::Url::parse("https://example.com/p").expect("url");
    url.query_pairs_mut()
        .append_pair("test", "一 (&=?!#%.*)")
        .append_pair("path", "/tmp/123")
        .append_pair("multi", "3")
        .append_pair("multi", "1")
        .append_pair("multi", "2")
        .append_pair("limit", "1")
        .append_pair("enable", "true");
    assert_eq!(
        canonical_query(&url),
        "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
    );
}

#[test]
fn canonical_uri_reencodes_segments_and_adds_slash() {
    let url = url::Url::parse("https://h/a%20b/c:d/").expect("url");
    assert_eq!(canonical_uri(&url), "/a%20b/c%3Ad/");
    let root = url::Url::parse("https://h").expect("url");
    assert_eq!(canonical_uri(&root), "/");
}

#[test]
fn caller_supplied_date_header_is_replaced_and_body_matters() {
    let url = url::Url::parse("https://h/x").expect("url");
    let h = headers(&[("x-sdk-date", "19990101T000000Z")]);
    let t = at(2024, 1, 1, 0, 0, 0);
    let a = sign(
        &SignableRequest {
            method: &Method::POST,
            url: &url,
            headers: &h,
            body: b"a",
        },
        "AK",
        &Secret::new("SK"),
        t,
    );
    let b = sign(
        &SignableRequest {
            method: &Method::POST,
            url: &url,
            headers: &h,
            body: b"b",
        },
        "AK",
        &Secret::new("SK"),
        t,
    );
    assert_eq!(a.x_sdk_date, "20240101T000000Z");
    assert_eq!(a.signed_headers, "x-sdk-date");
    assert_ne!(a.signature, b.signature);
}

#[test]
fn content_sha256_header_replaces_body_hash() {
    let url = url::Url::parse("https://h/x").expect("url");
    let h = headers(&[("x-sdk-content-sha256", "UNSIGNED-PAYLOAD")]);
    let req = SignableRequest {
        method: &Method::PUT,
        url: &url,
        headers: &h,
        body: b"big",
    };
    let (canonical, signed) = canonical_request(&req, "20240101T000000Z");
    assert!(canonical.ends_with("\nUNSIGNED-PAYLOAD"), "{canonical}");
    assert_eq!(signed, "x-sdk-content-sha256;x-sdk-date");
}

#[test]
fn apply_sets_both_headers() {
    let url = url::Url::parse("https://h/x").expect("url");
    let h = HeaderMap::new();
    let sig = sign(
        &SignableRequest {
            method: &Method::GET,
            url: &url,
            headers: &h,
            body: b"",
        },
        "AK",
        &Secret::new("SK"),
        at(2024, 5, 6, 7, 8, 9),
    );
    let mut out = HeaderMap::new();
    sig.apply(&mut out).expect("apply");
    assert_eq!(
        out.get("x-sdk-date").and_then(|v| v.to_str().ok()),
        Some("20240506T070809Z")
    );
    assert!(out
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("SDK-HMAC-SHA256 Access=AK, ")));
}
