//! Pagination: newest first, marker/next, exclusive from/to, limits, the
//! seven-day window, and the three API versions over the same data.

use std::collections::HashSet;
use std::time::Duration;

use cts_emulator::{EmulatorConfig, V2StatusField};
use serde_json::Value;

use crate::common::*;

fn times(traces: &[Value], field: &str) -> Vec<i64> {
    traces
        .iter()
        .map(|t| t[field].as_i64().expect(field))
        .collect()
}

#[tokio::test]
async fn walking_all_pages_returns_every_visible_trace_once_newest_first() {
    let cfg = EmulatorConfig {
        history_count: 2000,
        history_span: Duration::from_secs(3 * 3600),
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let p = emu.projects()[0].clone();
    let token = token(&emu, &p.name).await;
    let from = now_ms() - 4 * 3_600_000;
    let to = now_ms() + 1;
    let (traces, pages) = walk(
        &emu,
        &token,
        &format!("v3/{}/traces?limit=200&from={from}&to={to}", p.id),
    )
    .await;
    assert_eq!(pages, 10, "2000 traces in pages of 200");
    let rts = times(&traces, "record_time");
    assert!(
        rts.windows(2).all(|w| w[0] > w[1]),
        "strictly newest record_time first"
    );
    let ids: Vec<&str> = traces
        .iter()
        .map(|t| t["trace_id"].as_str().expect("id"))
        .collect();
    let truth = emu.visible_trace_ids(&p.id);
    assert_eq!(
        ids.iter().copied().collect::<HashSet<_>>(),
        truth.iter().map(String::as_str).collect::<HashSet<_>>()
    );
    assert_eq!(ids.len(), truth.len());
}

#[tokio::test]
async fn default_limit_is_ten_and_last_page_marker_is_null() {
    let emu = start(EmulatorConfig {
        history_count: 25,
        history_span: Duration::from_secs(1800),
        ..EmulatorConfig::default()
    })
    .await;
    let p = emu.projects()[0].clone();
    let token = token(&emu, &p.name).await;
    let r = get_with_token(&emu, &token, &format!("v3/{}/traces", p.id)).await;
    assert_eq!(r.body["meta_data"]["count"], 10);
    assert!(r.body["meta_data"]["marker"].is_string());
    let (traces, pages) = walk(&emu, &token, &format!("v3/{}/traces?limit=10", p.id)).await;
    assert_eq!((traces.len(), pages), (25, 3));
    // A page that is exactly full but the last one still ends with marker null.
    let (traces, pages) = walk(&emu, &token, &format!("v3/{}/traces?limit=25", p.id)).await;
    assert_eq!((traces.len(), pages), (25, 1));
}

#[tokio::test]
async fn marker_on_last_page_option_keeps_clients_honest() {
    let cfg = EmulatorConfig {
        history_count: 15,
        history_span: Duration::from_secs(1800),
        marker_on_last_page: true,
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let p = emu.projects()[0].clone();
    let token = token(&emu, &p.name).await;
    // walk() stops on an empty page: 15 traces, pages 10 + 5 + empty.
    let (traces, pages) = walk(&emu, &token, &format!("v3/{}/traces?limit=10", p.id)).await;
    assert_eq!((traces.len(), pages), (15, 3));
}

#[tokio::test]
async fn from_and_to_are_exclusive_on_time() {
    let emu = start(EmulatorConfig {
        history_count: 300,
        history_span: Duration::from_secs(1800),
        ..EmulatorConfig::default()
    })
    .await;
    let p = emu.projects()[0].clone();
    let token = token(&emu, &p.name).await;
    let (all, _) = walk(&emu, &token, &format!("v3/{}/traces?limit=200", p.id)).await;
    let mut ts = times(&all, "time");
    ts.sort_unstable();
    ts.dedup();
    let (lo, hi) = (ts[50], ts[150]);
    let (some, _) = walk(
        &emu,
        &token,
        &format!("v3/{}/traces?limit=200&from={lo}&to={hi}", p.id),
    )
    .await;
    let got = times(&some, "time");
    assert!(got.iter().all(|&t| t > lo && t < hi), "bounds exclusive");
    let want = all
        .iter()
        .filter(|t| (lo + 1..hi).contains(&t["time"].as_i64().expect("time")))
        .count();
    assert_eq!(got.len(), want);
    assert!(!got.contains(&lo) && !got.contains(&hi));
}

#[tokio::test]
async fn limit_outside_1_to_200_is_a_400() {
    let emu = start(EmulatorConfig {
        history_count: 10,
        ..EmulatorConfig::default()
    })
    .await;
    let p = emu.projects()[0].clone();
    let token = token(&emu, &p.name).await;
    for path in [
        format!("v3/{}/traces?limit=201", p.id),
        format!("v2.0/{}/system/trace?limit=0", p.id),
        format!("v1.0/{}/system/trace?limit=x", p.id),
    ] {
        let r = get_with_token(&emu, &token, &path).await;
        assert_eq!(
            (r.status, r.body["error_code"].as_str()),
            (400, Some("CTS.0300")),
            "{path}"
        );
        assert!(r.body["error_msg"]
            .as_str()
            .expect("msg")
            .contains("1 to 200"));
    }
    assert_eq!(
        get_with_token(&emu, &token, &format!("v3/{}/traces?limit=200", p.id))
            .await
            .status,
        200
    );
    let r = get_with_token(
        &emu,
        &token,
        &format!("v3/{}/traces?next=not-a-marker", p.id),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error_msg"]
        .as_str()
        .expect("msg")
        .contains("not-a-marker"));
}

#[tokio::test]
async fn only_the_last_seven_days_are_served() {
    let cfg = EmulatorConfig {
        history_count: 1000,
        history_span: Duration::from_secs(10 * 86_400),
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let p = emu.projects()[0].clone();
    let token = token(&emu, &p.name).await;
    let (traces, _) = walk(
        &emu,
        &token,
        &format!("v3/{}/traces?limit=200&from=0&to={}", p.id, now_ms() + 1),
    )
    .await;
    let week_ago = now_ms() - 7 * 86_400_000 - 5_000;
    assert!(times(&traces, "time").iter().all(|&t| t >= week_ago));
    let visible = emu.visible_trace_ids(&p.id).len();
    assert!(
        traces.len() < visible && traces.len() > visible / 2,
        "{} of {visible}",
        traces.len()
    );
}

#[tokio::test]
async fn three_versions_serve_the_same_traces_with_their_status_field() {
    let cfg = EmulatorConfig {
        history_count: 40,
        history_span: Duration::from_secs(1800),
        v2_status_field: V2StatusField::TraceStatus,
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let p = emu.projects()[0].clone();
    let token = token(&emu, &p.name).await;
    let q = "limit=200";
    let v1 = get_with_token(&emu, &token, &format!("v1.0/{}/system/trace?{q}", p.id))
        .await
        .body;
    let v2 = get_with_token(&emu, &token, &format!("v2.0/{}/system/trace?{q}", p.id))
        .await
        .body;
    let v3 = get_with_token(&emu, &token, &format!("v3/{}/traces?{q}", p.id))
        .await
        .body;
    let ids = |v: &Value| {
        v["traces"]
            .as_array()
            .expect("traces")
            .iter()
            .map(|t| t["trace_id"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&v1), ids(&v3));
    assert_eq!(ids(&v2), ids(&v3));
    assert_eq!(ids(&v3).len(), 40);
    for t in v2["traces"].as_array().expect("traces") {
        assert!(
            t["trace_status"].is_string() && t.get("trace_rating").is_none(),
            "{t}"
        );
    }
    for t in v3["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .chain(v1["traces"].as_array().expect("traces"))
    {
        assert!(t["trace_rating"].is_string() && t.get("trace_status").is_none());
    }
    // Unknown tracker in the path.
    let r = get_with_token(&emu, &token, &format!("v2.0/{}/other/trace", p.id)).await;
    assert_eq!(
        (r.status, r.body["error_code"].as_str()),
        (404, Some("CTS.0214"))
    );
}
