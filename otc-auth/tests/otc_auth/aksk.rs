//! The AK/SK flow against a wiremock IAM: signed project and catalog lookups, signed service requests.

use chrono::{NaiveDateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderValue, Method};
use otc_auth::sign::{sign, SignableRequest, SignatureForm};
use otc_auth::{
    AuthProvider, CloudConfig, Credentials, Error, ProviderOptions, RequestAuthorizer, Secret,
};
use serde_json::json;
use url::Url;
use wiremock::matchers::{header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::common::{catalog, t0, ManualClock, DOMAIN_ID, PROJECT_ID};

pub const AK: &str = "AKTEST00000000000001";
pub const SK: &str = "SK-very-secret-0000000000000000000000000";
pub const ST: &str = "security-token-secret-value";

pub fn aksk_config(server: &MockServer, security_token: Option<&str>) -> CloudConfig {
    let mut c = CloudConfig::new(
        "aksk",
        Url::parse(&format!("{}/v3", server.uri())).expect("url"),
        "eu-de",
        Credentials::AkSk {
            access_key: AK.into(),
            secret_key: Secret::new(SK),
            security_token: security_token.map(Secret::new),
        },
    );
    c.project_name = Some("eu-de_analytics".into());
    c
}

pub async fn mount_iam(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v3/projects"))
        .and(query_param("name", "eu-de_analytics"))
        .and(header_exists("x-sdk-date"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "projects":[{"id":PROJECT_ID,"name":"eu-de_analytics","domain_id":DOMAIN_ID,"enabled":true,"is_domain":false,"parent_id":DOMAIN_ID,"description":"","links":{"self":"x"}}],
            "links":{"self":"x","previous":null,"next":null}})))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/auth/catalog"))
        .and(header("x-project-id", PROJECT_ID))
        .and(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"catalog": catalog(&server.uri()), "links":{"self":"x"}})),
        )
        .expect(..=1)
        .mount(server)
        .await;
}

/// Recomputes the signature of a request *as received*, from its SignedHeaders list, and checks it.
pub fn verify_received(req: &Request) -> String {
    verify_received_form(req).0
}

/// As [`verify_received`], also returning the form the request was signed in.
pub fn verify_received_form(req: &Request) -> (String, SignatureForm) {
    let auth = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .expect("Authorization");
    let rest = auth.strip_prefix("SDK-HMAC-SHA256 ").expect("algorithm");
    let (form, rest) = if let Some(r) = rest.strip_prefix("Access=") {
        (SignatureForm::Guide, r)
    } else {
        (
            SignatureForm::Sdk,
            rest.strip_prefix("Credential=")
                .expect("Access= or Credential="),
        )
    };
    let mut parts = rest.split(", ");
    let credential = parts.next().expect("credential");
    match form {
        SignatureForm::Guide => assert_eq!(credential, AK),
        _ => assert!(
            credential.starts_with(&format!("{AK}/")) && credential.ends_with("///sdk_request"),
            "{credential}"
        ),
    }
    let signed = parts
        .next()
        .and_then(|p| p.strip_prefix("SignedHeaders="))
        .expect("SignedHeaders");
    let sig = parts
        .next()
        .and_then(|p| p.strip_prefix("Signature="))
        .expect("Signature");
    let date = req
        .headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .expect("X-Sdk-Date");
    let at = Utc.from_utc_datetime(
        &NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").expect("date format"),
    );
    let mut h = HeaderMap::new();
    for name in signed.split(';').filter(|n| *n != "x-sdk-date") {
        let v = req
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("signed header {name} not sent"));
        h.insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            v.clone(),
        );
    }
    let expected = sign(
        &SignableRequest {
            method: &req.method,
            url: &req.url,
            headers: &h,
            body: &req.body,
        },
        form,
        AK,
        &Secret::new(SK),
        at,
    );
    assert_eq!(
        expected.signature, sig,
        "signature does not match the request as received"
    );
    (signed.to_owned(), form)
}

#[tokio::test]
async fn resolves_project_and_catalog_with_signed_calls() {
    let server = MockServer::start().await;
    mount_iam(&server).await;
    let clock = ManualClock::at(t0());
    let p = AuthProvider::with_options(
        aksk_config(&server, None),
        ProviderOptions {
            clock,
            ..ProviderOptions::default()
        },
    )
    .expect("provider");
    assert_eq!(p.project_id().await.expect("pid"), PROJECT_ID);
    assert_eq!(
        p.domain_id().await.expect("did").as_deref(),
        Some(DOMAIN_ID)
    );
    let cts = p.endpoint("cts").await.expect("cts");
    assert_eq!(cts.as_str(), format!("{}/v1.0/{PROJECT_ID}/", server.uri()));
    p.endpoint("cts").await.expect("cached");

    let reqs = server.received_requests().await.expect("recorded");
    assert_eq!(reqs.len(), 2, "one project lookup, one catalog fetch");
    assert_eq!(
        verify_received_form(&reqs[0]),
        (
            "content-type;host;x-sdk-date".to_owned(),
            SignatureForm::Sdk
        ),
        "the OTC SDK's form by default"
    );
    assert_eq!(
        verify_received(&reqs[1]),
        "content-type;host;x-project-id;x-sdk-date"
    );
    assert_eq!(
        reqs[0]
            .headers
            .get("x-sdk-date")
            .and_then(|v| v.to_str().ok()),
        Some("20240301T120000Z")
    );
    server.verify().await;
}

#[tokio::test]
async fn service_requests_are_signed_with_project_and_security_token() {
    let server = MockServer::start().await;
    mount_iam(&server).await;
    Mock::given(method("POST"))
        .and(path(format!("/v3/{PROJECT_ID}/traces")))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let p = AuthProvider::new(aksk_config(&server, Some(ST))).expect("provider");
    let url = Url::parse(&format!(
        "{}/v3/{PROJECT_ID}/traces?limit=10&trace_type=system",
        server.uri()
    ))
    .expect("url");
    let body = br#"{"x":1}"#;
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    p.authorize(&Method::POST, &url, &mut headers, body)
        .await
        .expect("authorize");
    assert_eq!(
        headers.get("x-project-id").and_then(|v| v.to_str().ok()),
        Some(PROJECT_ID)
    );
    assert_eq!(
        headers
            .get("x-security-token")
            .and_then(|v| v.to_str().ok()),
        Some(ST)
    );
    assert!(headers.contains_key("x-sdk-date"));
    assert!(
        !format!("{headers:?}").contains(ST),
        "security token hidden in Debug"
    );

    // Send it for real and verify the signature as the server saw it.
    let client = reqwest::Client::new();
    let resp = client
        .post(url.clone())
        .headers(headers)
        .body(body.to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 200);
    let reqs = server.received_requests().await.expect("recorded");
    let svc = reqs
        .iter()
        .find(|r| r.url.path().ends_with("/traces"))
        .expect("service call");
    assert_eq!(
        verify_received(svc),
        "content-type;host;x-project-id;x-sdk-date"
    );
    // IAM calls carried the security token too.
    assert!(reqs
        .iter()
        .all(|r| r.headers.get("x-security-token").is_some()));
}

#[tokio::test]
async fn configured_project_id_skips_the_lookup() {
    let server = MockServer::start().await;
    Mock::given(path("/v3/projects"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let mut c = aksk_config(&server, None);
    c.project_id = Some("explicit-pid".into());
    let p = AuthProvider::new(c).expect("provider");
    let mut h = HeaderMap::new();
    p.authorize(
        &Method::GET,
        &Url::parse("https://cts.example/v3/x").expect("url"),
        &mut h,
        b"",
    )
    .await
    .expect("authorize");
    assert_eq!(
        h.get("x-project-id").and_then(|v| v.to_str().ok()),
        Some("explicit-pid")
    );
    server.verify().await;
}

#[tokio::test]
async fn rejected_access_key_is_named_but_the_secret_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/projects"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIGW.0301"})))
        .mount(&server)
        .await;
    let p = AuthProvider::new(aksk_config(&server, None)).expect("provider");
    let err = p.project_id().await.expect_err("401");
    let msg = err.to_string();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(
        msg.contains(&format!("access key '{AK}'")) && msg.contains("verify aksk signature fail"),
        "{msg}"
    );
    assert!(!msg.contains(SK) && !format!("{err:?}").contains(SK));
}

#[tokio::test]
async fn a_provider_needs_a_project() {
    let server = MockServer::start().await;
    let mut c = aksk_config(&server, None);
    c.project_name = None;
    let err = AuthProvider::new(c).expect_err("no project");
    assert!(err.to_string().contains("auth.project_name"), "{err}");
}

#[tokio::test]
async fn unknown_project_name_is_reported() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/projects"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"projects":[],"links":{}})))
        .mount(&server)
        .await;
    let p = AuthProvider::new(aksk_config(&server, None)).expect("provider");
    let err = p.endpoint("cts").await.expect_err("no project");
    assert!(matches!(err, Error::ProjectNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("'eu-de_analytics'"), "{err}");
}
