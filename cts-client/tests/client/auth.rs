//! The otc-auth seam: the real StaticToken, failing authorizers, secrets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cts_client::{CtsClient, Endpoint, Error, TraceQuery};
use otc_auth::{Secret, StaticToken};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{page, FixedRandom, Harness};

const TOKEN: &str = "MIIZ-very-secret-token-value";

#[tokio::test]
async fn static_token_is_sent_and_never_shown() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .and(header("x-auth-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], None)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error_code": "APIG.0301", "error_msg": "token expires"})),
        )
        .expect(2)
        .mount(&h.server)
        .await;
    let endpoint = Endpoint::from_catalog_url(&h.catalog_url()).expect("url");
    let client = CtsClient::builder(endpoint, Arc::new(StaticToken::new(Secret::new(TOKEN))))
        .build()
        .expect("client");
    client
        .list_traces(&TraceQuery::new())
        .await
        .expect("token accepted");
    let e = client
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("token rejected twice");
    assert!(matches!(e, Error::Unauthorized(_)), "{e:?}");
    for shown in [format!("{client:?}"), format!("{e:?}"), e.to_string()] {
        assert!(!shown.contains(TOKEN), "token leaked: {shown}");
    }
}

/// Fails `failures` times with the given error, then sends a token.
#[derive(Debug)]
struct FlakyAuth {
    failures: usize,
    calls: AtomicUsize,
    error: fn() -> otc_auth::Error,
}

#[async_trait::async_trait]
impl otc_auth::RequestAuthorizer for FlakyAuth {
    async fn authorize(
        &self,
        _m: &http::Method,
        _u: &url::Url,
        headers: &mut http::HeaderMap,
        _b: &[u8],
    ) -> Result<(), otc_auth::Error> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err((self.error)());
        }
        headers.insert("x-auth-token", http::HeaderValue::from_static("ok"));
        Ok(())
    }
    async fn invalidate(&self) {}
}

fn client_with(h: &Harness, auth: Arc<FlakyAuth>) -> CtsClient {
    let endpoint = Endpoint::from_catalog_url(&h.catalog_url()).expect("url");
    CtsClient::builder(endpoint, auth)
        .clock(h.clock.clone())
        .random_source(Arc::new(FixedRandom(0.0)))
        .build()
        .expect("client")
}

#[tokio::test]
async fn rejected_credentials_from_iam_fail_without_a_request() {
    let h = Harness::start().await;
    let auth = Arc::new(FlakyAuth {
        failures: usize::MAX,
        calls: AtomicUsize::new(0),
        error: || otc_auth::Error::Unauthorized {
            credential: "password of user 'alice'".into(),
            url: "https://iam.example/v3/auth/tokens".into(),
            message: "The username or password is wrong.".into(),
        },
    });
    let e = client_with(&h, auth.clone())
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("no token");
    assert!(
        matches!(e, Error::Auth(otc_auth::Error::Unauthorized { .. })),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("OTC authentication failed: IAM at"),
        "{e}"
    );
    assert_eq!(auth.calls.load(Ordering::SeqCst), 1, "not retried");
    assert!(h
        .server
        .received_requests()
        .await
        .expect("recorded")
        .is_empty());
}

#[tokio::test]
async fn iam_unreachable_is_retried() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .and(header("x-auth-token", "ok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], None)))
        .expect(1)
        .mount(&h.server)
        .await;
    let auth = Arc::new(FlakyAuth {
        failures: 2,
        calls: AtomicUsize::new(0),
        error: || otc_auth::Error::Http {
            url: "https://iam.example/v3/auth/tokens".into(),
            message: "connection refused".into(),
        },
    });
    let p = client_with(&h, auth.clone())
        .list_traces(&TraceQuery::new())
        .await
        .expect("third try");
    assert_eq!(p.traces.len(), 1);
    assert_eq!(auth.calls.load(Ordering::SeqCst), 3);
    assert_eq!(h.clock.sleeps().len(), 2);
}

/// A gateway that accepts only the signing guide's AK/SK form (`Access=`) and refuses the OTC
/// SDK's (`Credential=`) with API Gateway's signature error, recording the forms it saw.
struct GuideOnlyGateway(Arc<std::sync::Mutex<Vec<&'static str>>>);

impl wiremock::Respond for GuideOnlyGateway {
    fn respond(&self, req: &wiremock::Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let form = if auth.starts_with("SDK-HMAC-SHA256 Access=") {
            "guide"
        } else if auth.starts_with("SDK-HMAC-SHA256 Credential=") {
            "sdk"
        } else {
            "none"
        };
        self.0.lock().expect("lock").push(form);
        if form == "guide" {
            ResponseTemplate::new(200).set_body_json(page(&["a"], None))
        } else {
            ResponseTemplate::new(401).set_body_json(json!({
                "error_msg": "Incorrect IAM authentication information: verify aksk signature fail",
                "error_code": "APIG.0301", "request_id": "r1"}))
        }
    }
}

#[tokio::test]
async fn aksk_signature_refused_in_the_sdk_form_is_retried_once_in_the_guide_form() {
    let h = Harness::start().await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(GuideOnlyGateway(seen.clone()))
        .mount(&h.server)
        .await;
    let mut cloud = otc_auth::CloudConfig::new(
        "aksk",
        url::Url::parse(&format!("{}/v3", h.server.uri())).expect("url"),
        "eu-de",
        otc_auth::Credentials::AkSk {
            access_key: "AKGATEWAY0000000001".into(),
            secret_key: Secret::new("SK-gateway-secret-000000000000000000000"),
            security_token: None,
        },
    );
    cloud.project_id = Some(crate::support::PID.into());
    let provider = otc_auth::AuthProvider::new(cloud).expect("provider");
    assert_eq!(
        provider.signature_form(),
        Some(otc_auth::SignatureForm::Sdk)
    );
    let endpoint = Endpoint::from_catalog_url(&h.catalog_url()).expect("url");
    let client = CtsClient::builder(endpoint, Arc::new(provider.clone()))
        .clock(h.clock.clone())
        .random_source(Arc::new(FixedRandom(0.0)))
        .build()
        .expect("client");
    client
        .list_traces(&TraceQuery::new())
        .await
        .expect("accepted in the guide form");
    client
        .list_traces(&TraceQuery::new())
        .await
        .expect("the guide form is kept");
    assert_eq!(*seen.lock().expect("lock"), ["sdk", "guide", "guide"]);
    assert_eq!(
        provider.signature_form(),
        Some(otc_auth::SignatureForm::Guide)
    );
}
