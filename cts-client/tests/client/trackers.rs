//! Tracker list (v3) and get (v1).

use cts_client::Error;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{fixture, Harness, PID};

#[tokio::test]
async fn v3_list_all_and_by_name() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/{PID}/trackers")))
        .and(query_param_is_missing("tracker_name"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("v3_trackers.json"), "application/json"),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/{PID}/trackers")))
        .and(query_param("tracker_name", "system"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("v3_trackers.json"), "application/json"),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    let client = h.client();
    for name in [None, Some("system")] {
        let trackers = client.list_trackers(name).await.expect("ok");
        assert_eq!(trackers.len(), 1);
        let t = &trackers[0];
        assert_eq!(t.tracker_name.as_deref(), Some("system"));
        assert_eq!(t.status.as_deref(), Some("enabled"));
        assert_eq!(t.create_time, Some(1587958482923));
        let obs = t.obs_info.as_ref().expect("obs_info");
        assert_eq!(
            (obs.bucket_name.as_deref(), obs.compress_type.as_deref()),
            (Some("test-data-tracker"), Some("gzip"))
        );
        assert_eq!(
            t.lts.as_ref().and_then(|l| l.log_topic_name.as_deref()),
            Some("system-trace")
        );
        assert_eq!(
            t.extra.get("is_support_validate"),
            Some(&serde_json::json!(true))
        );
    }
}

#[tokio::test]
async fn v1_get_single_object() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/{PID}/tracker")))
        .and(query_param("tracker_name", "system"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("v1_tracker.json"), "application/json"),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    let t = h.client().get_tracker("system").await.expect("ok");
    assert_eq!(t.bucket_name.as_deref(), Some("obs-f1da"));
    assert_eq!(t.file_prefix_name.as_deref(), Some("yO8Q"));
    assert_eq!(t.extra.get("group_id"), Some(&serde_json::json!("g-1")));
}

#[tokio::test]
async fn tracker_list_of_the_wrong_shape_is_a_decode_error() {
    let h = Harness::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/{PID}/trackers")))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("v1_tracker.json"), "application/json"),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    let e = h
        .client()
        .list_trackers(None)
        .await
        .expect_err("no trackers array");
    match &e {
        Error::Decode { problem, what, .. } => {
            assert!(problem.contains("missing field `trackers`"), "{problem}");
            assert!(what.contains("tracker list"), "{what}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let e = h.client().get_tracker(" ").await.expect_err("blank");
    assert!(matches!(
        e,
        Error::InvalidQuery {
            field: "tracker_name",
            ..
        }
    ));
}
