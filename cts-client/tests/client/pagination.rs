//! Following markers: single page, several pages, null marker, empty page, loops.

use cts_client::{Error, TraceQuery};
use futures::{StreamExt, TryStreamExt};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{ids, page, Harness};

#[tokio::test]
async fn single_page_with_null_marker() {
    let h = Harness::start().await;
    h.mount_page(None, page(&["a", "b"], None), Some(1)).await;
    let traces: Vec<_> = h
        .client()
        .traces(TraceQuery::new().limit(200))
        .try_collect()
        .await
        .expect("ok");
    assert_eq!(ids(&traces), ["a", "b"]);
}

#[tokio::test]
async fn several_pages_follow_marker_as_next_with_same_filters() {
    let h = Harness::start().await;
    let base = || {
        Mock::given(method("GET"))
            .and(path(h.v3_path()))
            .and(query_param("from", "1700000000000"))
            .and(query_param("to", "1700003600000"))
            .and(query_param("limit", "2"))
            .and(query_param("service_type", "ECS"))
    };
    base()
        .and(query_param_is_missing("next"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["t1", "t2"], Some("t2"))))
        .expect(2)
        .mount(&h.server)
        .await;
    base()
        .and(query_param("next", "t2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["t3", "t4"], Some("t4"))))
        .expect(2)
        .mount(&h.server)
        .await;
    base()
        .and(query_param("next", "t4"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(&["t5"], None)))
        .expect(2)
        .mount(&h.server)
        .await;
    let q = TraceQuery::new()
        .window_ms(1_700_000_000_000, 1_700_003_600_000)
        .limit(2)
        .service_type("ECS");
    let client = h.client();
    let pages: Vec<_> = client.pages(q.clone()).try_collect().await.expect("ok");
    assert_eq!(pages.len(), 3);
    assert_eq!(pages[0].marker.as_deref(), Some("t2"));
    assert_eq!(pages[2].marker, None);
    let traces: Vec<_> = client.traces(q).try_collect().await.expect("ok");
    assert_eq!(ids(&traces), ["t1", "t2", "t3", "t4", "t5"]);
    // 3 requests for `pages`, 3 for `traces`; each mock verifies its share on drop.
    assert_eq!(
        h.server.received_requests().await.expect("recorded").len(),
        6
    );
}

#[tokio::test]
async fn empty_marker_string_ends_the_walk() {
    let h = Harness::start().await;
    h.mount_page(
        None,
        serde_json::json!({
            "traces": [crate::support::trace("x")], "meta_data": {"count": 1, "marker": ""}
        }),
        Some(1),
    )
    .await;
    let traces: Vec<_> = h
        .client()
        .traces(TraceQuery::new())
        .try_collect()
        .await
        .expect("ok");
    assert_eq!(ids(&traces), ["x"]);
}

#[tokio::test]
async fn missing_meta_data_ends_the_walk() {
    let h = Harness::start().await;
    let body = serde_json::json!({"traces": [crate::support::trace("x")]});
    h.mount_page(None, body, Some(1)).await;
    let traces: Vec<_> = h
        .client()
        .traces(TraceQuery::new())
        .try_collect()
        .await
        .expect("ok");
    assert_eq!(ids(&traces), ["x"]);
}

#[tokio::test]
async fn empty_page_with_marker_stops_without_another_request() {
    let h = Harness::start().await;
    h.mount_page(None, page(&["a"], Some("a")), Some(1)).await;
    h.mount_page(Some("a"), page(&[], Some("zzz")), Some(1))
        .await;
    let pages: Vec<_> = h
        .client()
        .pages(TraceQuery::new())
        .try_collect()
        .await
        .expect("ok");
    assert_eq!(pages.len(), 1, "the empty page is not yielded");
    assert_eq!(
        h.server.received_requests().await.expect("recorded").len(),
        2
    );
}

#[tokio::test]
async fn first_page_empty_yields_nothing() {
    let h = Harness::start().await;
    h.mount_page(None, page(&[], None), Some(1)).await;
    let traces: Vec<_> = h
        .client()
        .traces(TraceQuery::new())
        .try_collect()
        .await
        .expect("ok");
    assert!(traces.is_empty());
}

#[tokio::test]
async fn repeated_marker_is_a_clear_error() {
    let h = Harness::start().await;
    h.mount_page(None, page(&["a", "b"], Some("b")), None).await;
    h.mount_page(Some("b"), page(&["c", "d"], Some("d")), None)
        .await;
    h.mount_page(Some("d"), page(&["e", "b"], Some("b")), None)
        .await;
    // `take` bounds the walk, so a broken loop check fails here instead of hanging.
    let items: Vec<_> = h.client().pages(TraceQuery::new()).take(10).collect().await;
    assert_eq!(
        items.len(),
        4,
        "three pages (the looping one too), then the error, then the end"
    );
    assert!(items[0].is_ok() && items[1].is_ok());
    assert_eq!(
        items[2].as_ref().map(|p| ids(&p.traces)).ok(),
        Some(vec!["e".to_owned(), "b".to_owned()]),
        "the page that repeated the marker is yielded before the error"
    );
    match &items[3] {
        Err(e @ Error::MarkerLoop { marker, page }) => {
            assert_eq!((marker.as_str(), *page), ("b", 3));
            assert!(e.to_string().contains("already followed"), "{e}");
        }
        other => panic!("expected a marker loop, got {other:?}"),
    }
    assert_eq!(
        h.server.received_requests().await.expect("recorded").len(),
        3
    );
}

#[tokio::test]
async fn marker_equal_to_the_starting_next_is_a_loop() {
    let h = Harness::start().await;
    h.mount_page(Some("m"), page(&["x"], Some("m")), Some(1))
        .await;
    let items: Vec<_> = h
        .client()
        .traces(TraceQuery::new().next("m"))
        .take(10)
        .collect()
        .await;
    assert_eq!(
        items.len(),
        2,
        "the loop is detected on the first page, after its trace: {items:?}"
    );
    assert_eq!(
        items[0].as_ref().ok().and_then(|t| t.trace_id.as_deref()),
        Some("x")
    );
    assert!(
        matches!(items[1], Err(Error::MarkerLoop { page: 1, .. })),
        "{items:?}"
    );
}

#[tokio::test]
async fn traces_of_the_looping_page_are_not_lost() {
    let h = Harness::start().await;
    h.mount_page(None, page(&["a", "b"], Some("b")), Some(1))
        .await;
    // The server answers `next=b` with new traces but the same marker again.
    h.mount_page(Some("b"), page(&["c", "d"], Some("b")), Some(1))
        .await;
    let items: Vec<_> = h
        .client()
        .traces(TraceQuery::new())
        .take(10)
        .collect()
        .await;
    let got: Vec<_> = items
        .iter()
        .filter_map(|i| i.as_ref().ok().and_then(|t| t.trace_id.clone()))
        .collect();
    assert_eq!(got, ["a", "b", "c", "d"], "{items:?}");
    assert_eq!(items.len(), 5, "{items:?}");
    assert!(
        matches!(&items[4], Err(Error::MarkerLoop { marker, page: 2 }) if marker == "b"),
        "{items:?}"
    );
}

#[tokio::test]
async fn an_error_mid_walk_ends_the_stream_after_the_good_pages() {
    let h = Harness::start().await;
    h.mount_page(None, page(&["a"], Some("a")), None).await;
    Mock::given(method("GET"))
        .and(path(h.v3_path()))
        .and(query_param("next", "a"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            serde_json::json!({"error_code": "CTS.0300", "error_msg": "Query failed."}),
        ))
        .mount(&h.server)
        .await;
    let items: Vec<_> = h.client().traces(TraceQuery::new()).collect().await;
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0].as_ref().ok().and_then(|t| t.trace_id.as_deref()),
        Some("a")
    );
    assert!(
        matches!(&items[1], Err(Error::BadRequest(e)) if e.code.as_deref() == Some("CTS.0300"))
    );
}

#[tokio::test]
async fn single_page_call_returns_marker_and_count() {
    let h = Harness::start().await;
    h.mount_page(Some("resume-here"), page(&["p", "q"], Some("q")), Some(1))
        .await;
    let p = h
        .client()
        .list_traces(&TraceQuery::new().next("resume-here"))
        .await
        .expect("ok");
    assert_eq!(ids(&p.traces), ["p", "q"]);
    assert_eq!((p.marker.as_deref(), p.count), (Some("q"), Some(2)));
}

/// `{"traces": [good "a", "bad" with "time": "yesterday", "user": 42 ...], "meta_data"}`.
fn page_with_bad(marker: Option<&str>) -> serde_json::Value {
    let mut bad = crate::support::trace("bad");
    bad["time"] = serde_json::json!("yesterday");
    let mut worse = crate::support::trace("worse");
    worse["user"] = serde_json::json!(42);
    serde_json::json!({
        "traces": [crate::support::trace("a"), bad, worse, crate::support::trace("b")],
        "meta_data": {"count": 4, "marker": marker}
    })
}

#[tokio::test]
async fn pages_carry_undecodable_traces_and_the_walk_goes_on() {
    let h = Harness::start().await;
    h.mount_page(None, page_with_bad(Some("b")), Some(1)).await;
    h.mount_page(Some("b"), page(&["c"], None), Some(1)).await;
    let pages: Vec<_> = h
        .client()
        .pages(TraceQuery::new())
        .try_collect()
        .await
        .expect("no page fails");
    assert_eq!(pages.len(), 2);
    assert_eq!(ids(&pages[0].traces), ["a", "b"]);
    let bad: Vec<_> = pages[0]
        .undecodable
        .iter()
        .map(|u| (u.index, u.trace_id.as_deref(), u.service_type.as_deref()))
        .collect();
    assert_eq!(
        bad,
        [
            (1, Some("bad"), Some("VPC")),
            (2, Some("worse"), Some("VPC"))
        ]
    );
    assert!(pages[0].undecodable[0].raw.contains("\"yesterday\""));
    assert_eq!(ids(&pages[1].traces), ["c"]);
}

#[tokio::test]
async fn a_page_of_only_undecodable_traces_does_not_end_the_walk() {
    let h = Harness::start().await;
    let mut bad = crate::support::trace("x");
    bad["time"] = serde_json::json!("yesterday");
    let only_bad = serde_json::json!({"traces": [bad], "meta_data": {"count": 1, "marker": "x"}});
    h.mount_page(None, only_bad, Some(1)).await;
    h.mount_page(Some("x"), page(&["y"], None), Some(1)).await;
    let pages: Vec<_> = h
        .client()
        .pages(TraceQuery::new())
        .try_collect()
        .await
        .expect("ok");
    assert_eq!(pages.len(), 2);
    assert!(pages[0].traces.is_empty() && pages[0].undecodable.len() == 1);
    assert_eq!(ids(&pages[1].traces), ["y"]);
}

#[tokio::test]
async fn the_trace_stream_ends_with_the_undecodable_trace_instead_of_skipping_it() {
    let h = Harness::start().await;
    h.mount_page(None, page_with_bad(Some("b")), Some(1)).await;
    let items: Vec<_> = h.client().traces(TraceQuery::new()).collect().await;
    assert_eq!(items.len(), 3, "a, b, then the error: {items:?}");
    let got: Vec<_> = items[..2]
        .iter()
        .map(|i| i.as_ref().ok().and_then(|t| t.trace_id.as_deref()))
        .collect();
    assert_eq!(got, [Some("a"), Some("b")]);
    match &items[2] {
        Err(e @ Error::UndecodableTrace(u)) => {
            assert_eq!(u.trace_id.as_deref(), Some("bad"));
            let text = e.to_string();
            assert!(
                text.contains("traces[1] (trace_id \"bad\", VPC deleteEip)"),
                "{text}"
            );
        }
        other => panic!("expected an undecodable trace, got {other:?}"),
    }
    // The stream stopped: the next page was never asked for.
    assert_eq!(
        h.server.received_requests().await.expect("recorded").len(),
        1
    );
}
