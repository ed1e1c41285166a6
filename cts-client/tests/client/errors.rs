//! Authentication, retries and status mapping against a mock CTS.

use std::net::TcpListener;
use std::time::Duration;

use cts_client::{CtsClient, Endpoint, Error, RetryConfig, TraceQuery};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{page, Harness, PID};

fn cts_error(status: u16, code: &str, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error_code": code, "error_msg": msg}))
}

#[tokio::test]
async fn unauthorized_then_success_reauthenticates_once() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .and(header("x-auth-token", "tok-1"))
        .respond_with(cts_error(
            401,
            "APIG.0301",
            "Incorrect IAM authentication information: token expires",
        ))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .and(header("x-auth-token", "tok-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], None)))
        .expect(1)
        .mount(&h.server)
        .await;
    let p = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect("second try succeeds");
    assert_eq!(p.traces.len(), 1);
    assert_eq!((h.invalidated(), h.authorized()), (1, 2));
    assert!(
        h.clock.sleeps().is_empty(),
        "re-authentication does not back off"
    );
}

#[tokio::test]
async fn unauthorized_twice_is_an_error_without_retries() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(cts_error(
            401,
            "APIG.0301",
            "Incorrect IAM authentication information: decrypt token fail",
        ))
        .expect(2)
        .mount(&h.server)
        .await;
    let e = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("fails");
    match &e {
        Error::Unauthorized(api) => {
            assert_eq!((api.status, api.code.as_deref()), (401, Some("APIG.0301")));
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("even after re-authenticating") && text.contains("decrypt token fail"),
        "{text}"
    );
    assert!(!text.contains("tok-"), "no token in the message: {text}");
    assert_eq!(h.invalidated(), 1);
}

#[tokio::test]
async fn apig_credential_code_with_400_is_treated_as_unauthorized() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(cts_error(
            400,
            "APIG.0301",
            "Incorrect IAM authentication information: x-auth-token not found",
        ))
        .expect(2)
        .mount(&h.server)
        .await;
    let e = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("fails");
    assert!(
        matches!(&e, Error::Unauthorized(api) if api.status == 400),
        "{e:?}"
    );
    assert_eq!(h.invalidated(), 1);
}

#[tokio::test]
async fn throttled_honours_retry_after() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(
            cts_error(
                429,
                "APIG.0308",
                "The throttling threshold has been reached",
            )
            .insert_header("Retry-After", "3"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], None)))
        .expect(1)
        .mount(&h.server)
        .await;
    let p = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect("succeeds after waiting");
    assert_eq!(p.traces.len(), 1);
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(3)]);
}

#[tokio::test]
async fn throttled_without_retry_after_backs_off_and_finally_fails() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(ResponseTemplate::new(429))
        .expect(4)
        .mount(&h.server)
        .await;
    let e = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("budget spent");
    assert!(
        matches!(&e, Error::Throttled { retry_after: None, error } if error.status == 429),
        "{e:?}"
    );
    let ms: Vec<u128> = h.clock.sleeps().iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [100, 200, 400], "doubling back-off from 100 ms");
}

#[tokio::test]
async fn server_error_then_success() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(cts_error(500, "CTS.0005", "Failed to read data."))
        .up_to_n_times(1)
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a", "b"], None)))
        .expect(1)
        .mount(&h.server)
        .await;
    let p = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect("second attempt succeeds");
    assert_eq!(p.traces.len(), 2);
    assert_eq!(h.clock.sleeps(), [Duration::from_millis(100)]);
}

#[tokio::test]
async fn persistent_server_error_is_reported_after_the_budget() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(cts_error(
            503,
            "CTS.0001",
            "The IAM or OBS service is abnormal.",
        ))
        .expect(4)
        .mount(&h.server)
        .await;
    let e = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("fails");
    assert!(
        matches!(&e, Error::ServerError(api) if api.status == 503 && api.code.as_deref() == Some("CTS.0001")),
        "{e:?}"
    );
}

#[tokio::test]
async fn bad_request_is_not_retried() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(cts_error(400, "CTS.0300", "Query failed."))
        .expect(1)
        .mount(&h.server)
        .await;
    let e = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("fails");
    assert!(
        matches!(&e, Error::BadRequest(api) if api.code.as_deref() == Some("CTS.0300")),
        "{e:?}"
    );
    assert!(e.to_string().contains("CTS.0300: Query failed."), "{e}");
    assert!(h.clock.sleeps().is_empty());
}

#[tokio::test]
async fn forbidden_and_not_found_are_typed() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(cts_error(
            403,
            "CTS.0013",
            "No permission, Please check roles.",
        ))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{PID}/tracker")))
        .respond_with(cts_error(404, "CTS.0214", "The tracker does not exist."))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.client();
    let e = client
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("403");
    assert!(
        matches!(&e, Error::Forbidden(api) if api.code.as_deref() == Some("CTS.0013")),
        "{e:?}"
    );
    let e = client.get_tracker("nope").await.expect_err("404");
    assert!(
        matches!(&e, Error::NotFound(api) if api.code.as_deref() == Some("CTS.0214")),
        "{e:?}"
    );
}

#[tokio::test]
async fn slow_server_times_out_and_is_retried() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(&["a"], None))
                .set_delay(Duration::from_millis(600)),
        )
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["b"], None)))
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .request_timeout(Duration::from_millis(150))
        .build()
        .expect("client");
    let p = client
        .list_traces(&TraceQuery::new())
        .await
        .expect("second attempt is fast");
    assert_eq!(p.traces[0].trace_id.as_deref(), Some("b"));
    assert_eq!(h.clock.sleeps().len(), 1);

    let once = h
        .builder()
        .request_timeout(Duration::from_millis(150))
        .retry(RetryConfig::disabled())
        .build()
        .expect("client");
    Mock::given(method("GET"))
        .and(path(format!("/v3/{PID}/trackers")))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(600)))
        .mount(&h.server)
        .await;
    let e = once.list_trackers(None).await.expect_err("times out");
    assert!(
        matches!(&e, Error::Timeout { after, .. } if *after == Duration::from_millis(150)),
        "{e:?}"
    );
    assert!(e.to_string().contains("did not answer within 150ms"), "{e}");
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let h = Harness::start().await;
    let endpoint =
        Endpoint::from_catalog_url(&format!("http://127.0.0.1:{port}/v1.0/{PID}")).expect("url");
    let client = CtsClient::builder(endpoint, h.auth.clone())
        .clock(h.clock.clone())
        .random_source(std::sync::Arc::new(crate::support::FixedRandom(0.0)))
        .retry(RetryConfig {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            ..RetryConfig::default()
        })
        .build()
        .expect("client");
    let e = client
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(&e, Error::Transport { connect: true, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert_eq!(
        h.clock.sleeps(),
        [Duration::from_millis(50), Duration::from_millis(100)]
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", "http://elsewhere.invalid/"),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    let e = h
        .client()
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("302");
    assert!(
        matches!(&e, Error::UnexpectedStatus(api) if api.status == 302),
        "{e:?}"
    );
}

#[tokio::test]
async fn invalid_query_fails_before_any_request() {
    let h = Harness::start().await;
    let e = h
        .client()
        .list_traces(&TraceQuery::new().limit(500))
        .await
        .expect_err("limit");
    assert!(
        matches!(&e, Error::InvalidQuery { field: "limit", .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("between 1 and 200") && e.to_string().contains("got 500"),
        "{e}"
    );
    assert_eq!(
        h.server.received_requests().await.expect("recorded").len(),
        0
    );
    let e = h
        .builder()
        .retry(RetryConfig {
            multiplier: 0.0,
            ..RetryConfig::default()
        })
        .build()
        .expect_err("config");
    assert!(e.to_string().contains("retry.multiplier"), "{e}");
}
