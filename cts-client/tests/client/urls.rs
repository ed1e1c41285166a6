//! URL shapes and query parameters of every API version, as the server sees them.

use cts_client::{ApiVersion, Endpoint, TraceQuery, TraceRating, V2StatusParam};
use futures::TryStreamExt;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{page, Harness, PID};

const FROM: i64 = 1_478_490_478_000;
const TO: i64 = 1_479_095_278_000;

fn full_query() -> TraceQuery {
    TraceQuery::new()
        .window_ms(FROM, TO)
        .limit(11)
        .service_type("CTS")
        .user("alice")
        .resource_id("r-1")
        .resource_name("my tracker")
        .resource_type("tracker")
        .trace_id("e001ccb9-bc09-11e6-b00b-4b2a61338db6")
        .trace_name("createTracker")
        .trace_rating(TraceRating::Warning)
}

/// The raw query string the server received, split into pairs, in order.
async fn received_query(h: &Harness) -> (String, Vec<(String, String)>) {
    let reqs = h.server.received_requests().await.expect("recorded");
    let req = reqs.last().expect("one request");
    let pairs = req
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    (req.url.path().to_owned(), pairs)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn v3_url_and_all_filters() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/{PID}/traces")))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], None)))
        .expect(1)
        .mount(&h.server)
        .await;
    h.client()
        .list_traces(&full_query().tracker("system"))
        .await
        .expect("ok");
    let (p, q) = received_query(&h).await;
    assert_eq!(p, format!("/v3/{PID}/traces"));
    assert_eq!(
        q,
        pairs(&[
            ("trace_type", "system"),
            ("tracker_name", "system"),
            ("limit", "11"),
            ("from", "1478490478000"),
            ("to", "1479095278000"),
            ("service_type", "CTS"),
            ("user", "alice"),
            ("resource_id", "r-1"),
            ("resource_name", "my tracker"),
            ("resource_type", "tracker"),
            ("trace_id", "e001ccb9-bc09-11e6-b00b-4b2a61338db6"),
            ("trace_name", "createTracker"),
            ("trace_rating", "warning"),
        ])
    );
}

#[tokio::test]
async fn v3_data_trace_type_and_no_tracker_by_default() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/{PID}/traces")))
        .and(query_param("trace_type", "data"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], None)))
        .expect(1)
        .mount(&h.server)
        .await;
    h.client()
        .list_traces(&TraceQuery::new().trace_type("data"))
        .await
        .expect("ok");
    let (_, q) = received_query(&h).await;
    assert!(q.iter().all(|(k, _)| k != "tracker_name"), "{q:?}");
}

#[tokio::test]
async fn v2_url_tracker_in_path_and_status_parameter() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2.0/{PID}/system/trace")))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], None)))
        .expect(2)
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .api_version(ApiVersion::V2)
        .build()
        .expect("client");
    client.list_traces(&full_query()).await.expect("ok");
    let (_, q) = received_query(&h).await;
    assert!(
        q.contains(&("trace_status".to_owned(), "warning".to_owned())),
        "default v2 name: {q:?}"
    );
    assert!(
        q.iter()
            .all(|(k, _)| k != "trace_type" && k != "tracker_name" && k != "trace_rating"),
        "{q:?}"
    );
    assert_eq!(q.len(), 11, "ten filters and the status: {q:?}");

    let client = h
        .builder()
        .api_version(ApiVersion::V2)
        .v2_status_param(V2StatusParam::TraceRating)
        .build()
        .expect("client");
    client.list_traces(&full_query()).await.expect("ok");
    let (_, q) = received_query(&h).await;
    assert!(
        q.contains(&("trace_rating".to_owned(), "warning".to_owned())),
        "configured v2 name: {q:?}"
    );
}

#[tokio::test]
async fn v1_url_with_custom_tracker_and_paging() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{PID}/my-tracker/trace")))
        .and(query_param("trace_rating", "incident"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], Some("a"))))
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{PID}/my-tracker/trace")))
        .and(query_param("next", "a"))
        .and(query_param("trace_rating", "incident"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["b"], None)))
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h
        .builder()
        .api_version(ApiVersion::V1)
        .build()
        .expect("client");
    let q = TraceQuery::new()
        .tracker("my-tracker")
        .trace_rating(TraceRating::Incident);
    let traces: Vec<_> = client.traces(q).try_collect().await.expect("ok");
    assert_eq!(traces.len(), 2);
}

#[tokio::test]
async fn special_characters_are_percent_encoded_not_plus() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/{PID}/traces")))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&[], None)))
        .mount(&h.server)
        .await;
    h.client()
        .list_traces(&TraceQuery::new().resource_name("a b+c&d=é"))
        .await
        .expect("ok");
    let reqs = h.server.received_requests().await.expect("recorded");
    let raw = reqs[0].url.query().expect("query").to_owned();
    assert!(
        raw.ends_with("resource_name=a%20b%2Bc%26d%3D%C3%A9"),
        "{raw}"
    );
    let (_, q) = received_query(&h).await;
    assert!(
        q.contains(&("resource_name".to_owned(), "a b+c&d=é".to_owned())),
        "{q:?}"
    );
}

#[tokio::test]
async fn gateway_prefix_and_version_in_host_are_kept() {
    let h = Harness::start().await;
    // A catalog URL whose prefix path contains "v1": only the version segment changes.
    Mock::given(method("GET"))
        .and(path(format!("/v1-gw/v3/{PID}/traces")))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["a"], None)))
        .expect(1)
        .mount(&h.server)
        .await;
    let endpoint =
        Endpoint::from_catalog_url(&format!("{}/v1-gw/v1.0/{PID}/", h.server.uri())).expect("url");
    let client = cts_client::CtsClient::builder(endpoint, h.auth.clone())
        .build()
        .expect("client");
    client.list_traces(&TraceQuery::new()).await.expect("ok");
    let url = client
        .traces_request_url(&TraceQuery::new().limit(5), Some("m"))
        .expect("url");
    assert_eq!(
        url.as_str(),
        format!(
            "{}/v1-gw/v3/{PID}/traces?trace_type=system&limit=5&next=m",
            h.server.uri()
        )
    );
}
