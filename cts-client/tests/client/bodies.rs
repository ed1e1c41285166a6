//! Response bodies: documented and inferred shapes decode; malformed ones
//! give errors that name the problem and show the body.

use cts_client::{Error, TraceQuery, TraceRating};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{fixture, ids, Harness};

async fn answer(h: &Harness, template: ResponseTemplate) -> Result<cts_client::TracePage, Error> {
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(template)
        .expect(1)
        .mount(&h.server)
        .await;
    h.client().list_traces(&TraceQuery::new()).await
}

fn decode_parts(e: Error) -> (String, String, String) {
    let text = e.to_string();
    match e {
        Error::Decode {
            problem, snippet, ..
        } => (problem, snippet, text),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn documented_example_decodes() {
    let h = Harness::start().await;
    let p = answer(
        &h,
        ResponseTemplate::new(200)
            .set_body_raw(fixture("v3_page_documented.json"), "application/json"),
    )
    .await
    .expect("decodes");
    assert_eq!(p.traces.len(), 2);
    assert_eq!(p.count, Some(2));
    assert_eq!(
        p.marker.as_deref(),
        Some("e001ccb8-bc09-11e6-b2cc-2640a43cc6e8")
    );
    let t = &p.traces[0];
    assert_eq!(t.code.as_deref(), Some("200"));
    assert_eq!(t.trace_rating, Some(TraceRating::Warning));
    assert_eq!(t.record_time, Some(1481066128032));
}

#[tokio::test]
async fn inferred_real_v2_shape_decodes() {
    let h = Harness::start().await;
    let p = answer(
        &h,
        ResponseTemplate::new(200)
            .set_body_raw(fixture("v2_page_inferred_real.json"), "application/json"),
    )
    .await
    .expect("decodes");
    let t = &p.traces[0];
    assert_eq!(
        t.trace_rating,
        Some(TraceRating::Normal),
        "trace_status is read as the rating"
    );
    let user = t.user.as_ref().expect("user from a JSON string");
    assert_eq!(user.name.as_deref(), Some("alice"));
    assert_eq!(
        user.domain.as_ref().and_then(|d| d.id.as_deref()),
        Some("d-1")
    );
    assert_eq!(t.code.as_deref(), Some("202"));
    assert_eq!(p.marker, None);
}

#[tokio::test]
async fn truncated_json_is_named_and_shown() {
    let h = Harness::start().await;
    let body = r#"{"traces":[{"trace_id":"a1","trace_name":"createServer","time":1700000000000},{"trace_id":"a2","trace_na"#;
    let (problem, snippet, text) = decode_parts(
        answer(
            &h,
            ResponseTemplate::new(200).set_body_raw(body, "application/json"),
        )
        .await
        .expect_err("cut"),
    );
    assert!(problem.contains("cut off (truncated JSON)"), "{problem}");
    assert!(
        snippet.contains("\\\"trace_na"),
        "the end of the body is shown: {snippet}"
    );
    assert!(
        text.contains(&format!("GET /v3/{}/traces", crate::support::PID)),
        "{text}"
    );
}

#[tokio::test]
async fn html_with_200_is_named() {
    let h = Harness::start().await;
    let html =
        "<!DOCTYPE html><html><head><title>Login</title></head><body>Please sign in</body></html>";
    let (problem, snippet, _) = decode_parts(
        answer(
            &h,
            ResponseTemplate::new(200).set_body_raw(html, "text/html; charset=utf-8"),
        )
        .await
        .expect_err("html"),
    );
    assert!(
        problem.contains("expected JSON but got HTML") && problem.contains("text/html"),
        "{problem}"
    );
    assert!(snippet.contains("<!DOCTYPE html>"), "{snippet}");
}

#[tokio::test]
async fn html_labelled_as_json_is_still_named() {
    let h = Harness::start().await;
    let (problem, _, _) = decode_parts(
        answer(
            &h,
            ResponseTemplate::new(200).set_body_raw("<html>oops</html>", "application/json"),
        )
        .await
        .expect_err("html"),
    );
    assert!(problem.contains("HTML"), "{problem}");
}

#[tokio::test]
async fn a_trace_with_a_wrong_field_type_is_set_aside_not_the_page() {
    let h = Harness::start().await;
    let body = r#"{"traces":[{"trace_id":"good","time":1700000000000},{"trace_id":"bad-one","record_time":{"ms":1}}],"meta_data":{"count":2,"marker":null}}"#;
    let p = answer(
        &h,
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
    )
    .await
    .expect("the page decodes");
    assert_eq!(ids(&p.traces), ["good"]);
    let [bad] = p.undecodable.as_slice() else {
        panic!("one undecodable trace: {p:?}")
    };
    assert_eq!((bad.index, bad.trace_id.as_deref()), (1, Some("bad-one")));
    assert_eq!(bad.raw, r#"{"trace_id":"bad-one","record_time":{"ms":1}}"#);
    assert!(
        bad.error
            .contains("expected epoch milliseconds, got an object"),
        "{}",
        bad.error
    );
    assert!(
        bad.to_string()
            .starts_with("traces[1] (trace_id \"bad-one\"): "),
        "{bad}"
    );
}

#[tokio::test]
async fn traces_of_the_wrong_type_or_missing() {
    let h = Harness::start().await;
    let (problem, _, _) = decode_parts(
        answer(
            &h,
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"traces":"none","meta_data":{}}"#, "application/json"),
        )
        .await
        .expect_err("type"),
    );
    assert!(
        problem.contains("`traces` must be an array, got a string"),
        "{problem}"
    );

    let h = Harness::start().await;
    let (problem, _, _) = decode_parts(
        answer(
            &h,
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"error_code":"CTS.0300"}"#, "application/json"),
        )
        .await
        .expect_err("missing"),
    );
    assert!(problem.contains("no `traces` field"), "{problem}");
}

#[tokio::test]
async fn empty_body_with_200() {
    let h = Harness::start().await;
    let (problem, _, _) = decode_parts(
        answer(&h, ResponseTemplate::new(200))
            .await
            .expect_err("empty"),
    );
    assert!(problem.contains("empty"), "{problem}");
}

#[tokio::test]
async fn html_error_page_with_502_keeps_a_snippet() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_raw("<html><h1>502 Bad Gateway</h1></html>", "text/html"),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .retry(cts_client::RetryConfig::disabled())
        .build()
        .expect("client");
    let e = client
        .list_traces(&TraceQuery::new())
        .await
        .expect_err("502");
    assert!(
        matches!(&e, Error::ServerError(api) if api.status == 502),
        "{e:?}"
    );
    assert!(e.to_string().contains("502 Bad Gateway"), "{e}");
}
