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
            .starts_with("could not authorize the CTS request: IAM at"),
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
