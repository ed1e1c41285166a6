//! Filters, trace_id lookup, trackers, response shapes, fault injection and
//! the truth endpoint.

use std::time::{Duration, Instant};

use cts_emulator::{EmulatorConfig, Faults, Shape};
use serde_json::Value;

use crate::common::*;

async fn all_traces(emu: &cts_emulator::Emulator, token: &str, pid: &str) -> Vec<Value> {
    walk(emu, token, &format!("v3/{pid}/traces?limit=200"))
        .await
        .0
}

#[tokio::test]
async fn every_filter_selects_exactly_the_matching_traces() {
    let emu = start(EmulatorConfig {
        history_count: 1500,
        history_span: Duration::from_secs(3000),
        ..EmulatorConfig::default()
    })
    .await;
    let pid = emu.projects()[0].id.clone();
    let token = token(&emu, "eu-de_demo").await;
    let all = all_traces(&emu, &token, &pid).await;
    assert_eq!(all.len(), 1500);
    let sample = all
        .iter()
        .find(|t| t["user"].is_object() && t["trace_rating"] == "warning")
        .expect("a failed user action")
        .clone();
    // (query parameter, JSON pointer of the field it filters on)
    let cases = [
        ("service_type", "/service_type"),
        ("user", "/user/name"),
        ("resource_id", "/resource_id"),
        ("resource_name", "/resource_name"),
        ("resource_type", "/resource_type"),
        ("trace_name", "/trace_name"),
        ("trace_rating", "/trace_rating"),
    ];
    for (param, pointer) in cases {
        let value = sample
            .pointer(pointer)
            .and_then(Value::as_str)
            .expect("sample has the field");
        let want: Vec<&Value> = all
            .iter()
            .filter(|t| t.pointer(pointer) == sample.pointer(pointer))
            .map(|t| &t["trace_id"])
            .collect();
        let enc: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let (got, _) = walk(
            &emu,
            &token,
            &format!("v3/{pid}/traces?limit=50&{param}={enc}"),
        )
        .await;
        let got: Vec<&Value> = got.iter().map(|t| &t["trace_id"]).collect();
        assert!(!got.is_empty(), "{param}={value}");
        assert!(
            got.len() < all.len(),
            "{param}={value} filters something out"
        );
        assert_eq!(got, want, "{param}={value}");
    }
    // Combined filters intersect.
    let (got, _) = walk(
        &emu,
        &token,
        &format!("v3/{pid}/traces?limit=200&service_type=ECS&trace_rating=normal"),
    )
    .await;
    assert!(
        !got.is_empty()
            && got
                .iter()
                .all(|t| t["service_type"] == "ECS" && t["trace_rating"] == "normal")
    );
    // v2 filters by trace_status too.
    let r = get_with_token(
        &emu,
        &token,
        &format!("v2.0/{pid}/system/trace?limit=200&trace_status=incident"),
    )
    .await;
    let incidents = all
        .iter()
        .filter(|t| t["trace_rating"] == "incident")
        .count()
        .min(200);
    assert_eq!(r.body["meta_data"]["count"], incidents);
    // trace_id overrides every other criterion.
    let id = sample["trace_id"].as_str().expect("id");
    let r = get_with_token(
        &emu,
        &token,
        &format!("v3/{pid}/traces?trace_id={id}&service_type=NOPE&from=1&to=2"),
    )
    .await;
    assert_eq!(r.body["meta_data"]["count"], 1);
    assert_eq!(r.body["traces"][0], sample);
    // Data traces do not exist on OTC.
    let r = get_with_token(&emu, &token, &format!("v3/{pid}/traces?trace_type=data")).await;
    assert_eq!(
        (r.status, r.body["meta_data"]["count"].as_u64()),
        (200, Some(0))
    );
}

#[tokio::test]
async fn trackers_v3_list_and_v1_object() {
    let emu = start(EmulatorConfig {
        history_count: 0,
        ..EmulatorConfig::default()
    })
    .await;
    let p = emu.projects()[0].clone();
    let token = token(&emu, &p.name).await;
    let r = get_with_token(&emu, &token, &format!("v3/{}/trackers", p.id)).await;
    assert_eq!(r.status, 200);
    let t = &r.body["trackers"][0];
    assert_eq!(
        (
            t["tracker_name"].as_str(),
            t["tracker_type"].as_str(),
            t["status"].as_str()
        ),
        (Some("system"), Some("system"), Some("enabled"))
    );
    assert_eq!(t["project_id"], p.id.as_str());
    assert_eq!(t["domain_id"], emu.domain().id.as_str());
    assert!(
        t["create_time"].is_i64()
            && t["obs_info"]["bucket_name"].is_string()
            && t["lts"]["log_topic_name"] == "system-trace"
    );
    let r = get_with_token(
        &emu,
        &token,
        &format!("v3/{}/trackers?tracker_name=other", p.id),
    )
    .await;
    assert_eq!(r.body["trackers"].as_array().map(Vec::len), Some(0));
    let r = get_with_token(
        &emu,
        &token,
        &format!("v1.0/{}/tracker?tracker_name=system", p.id),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body.is_object()
            && r.body["tracker_name"] == "system"
            && r.body["bucket_name"].is_string()
    );
    let r = get_with_token(
        &emu,
        &token,
        &format!("v1.0/{}/tracker?tracker_name=other", p.id),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error_code"].as_str()),
        (404, Some("CTS.0214"))
    );
}

#[tokio::test]
async fn real_and_doc_shapes() {
    let emu = start(EmulatorConfig {
        history_count: 300,
        history_span: Duration::from_secs(1800),
        ..EmulatorConfig::default()
    })
    .await;
    let t = token(&emu, "eu-de_demo").await;
    let real = all_traces(&emu, &t, &emu.projects()[0].id).await;
    assert!(real
        .iter()
        .all(|t| t["code"].is_string() && t["time"].is_i64() && t["record_time"].is_i64()));
    assert!(real
        .iter()
        .filter_map(|t| t.get("response"))
        .all(Value::is_string));
    assert!(real
        .iter()
        .any(|t| t["trace_type"] == "SystemAction" && t.get("user").is_none()));
    assert!(real.iter().any(|t| t["user"]["domain"]["id"].is_string()));

    let emu = start(EmulatorConfig {
        history_count: 300,
        history_span: Duration::from_secs(1800),
        shape: Shape::Doc,
        ..EmulatorConfig::default()
    })
    .await;
    let t = token(&emu, "eu-de_demo").await;
    let doc = all_traces(&emu, &t, &emu.projects()[0].id).await;
    assert!(doc.iter().all(|t| t["code"].is_u64()));
    assert!(doc
        .iter()
        .filter_map(|t| t.get("response"))
        .all(Value::is_object));
}

#[tokio::test]
async fn injected_faults_follow_their_shares() {
    let faults = Faults {
        rate_limited_share: 0.2,
        retry_after_secs: 7,
        server_error_share: 0.1,
        ..Faults::default()
    };
    let emu = start(EmulatorConfig {
        history_count: 20,
        faults,
        ..EmulatorConfig::default()
    })
    .await;
    let pid = emu.projects()[0].id.clone();
    let token = token(&emu, "eu-de_demo").await;
    let (mut ok, mut throttled, mut failed) = (0, 0, 0);
    for _ in 0..600 {
        let r = get_with_token(&emu, &token, &format!("v3/{pid}/traces?limit=1")).await;
        match r.status {
            200 => ok += 1,
            429 => {
                throttled += 1;
                assert_eq!(r.headers["retry-after"], "7");
            }
            500 => {
                failed += 1;
                assert_eq!(r.body["error_code"], "CTS.0005");
            }
            s => panic!("unexpected status {s}"),
        }
    }
    assert!((85..=155).contains(&throttled), "429s: {throttled}");
    assert!((35..=90).contains(&failed), "500s: {failed}");
    assert_eq!(ok + throttled + failed, 600);
    // IAM is not affected.
    for _ in 0..20 {
        token_ok(&emu).await;
    }
}

async fn token_ok(emu: &cts_emulator::Emulator) {
    let _ = token(emu, "eu-de_demo").await;
}

#[tokio::test]
async fn slow_answers_are_slow() {
    let faults = Faults {
        slow_share: 1.0,
        slow_delay: Duration::from_millis(300),
        ..Faults::default()
    };
    let emu = start(EmulatorConfig {
        history_count: 5,
        faults,
        ..EmulatorConfig::default()
    })
    .await;
    let pid = emu.projects()[0].id.clone();
    let token = token(&emu, "eu-de_demo").await;
    let t0 = Instant::now();
    let r = get_with_token(&emu, &token, &format!("v3/{pid}/traces")).await;
    assert_eq!(r.status, 200);
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn truth_endpoint_matches_library_and_api() {
    let cfg = EmulatorConfig {
        projects: vec!["eu-de_a".into(), "eu-de_b".into()],
        history_count: 120,
        history_span: Duration::from_secs(1800),
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    for p in emu.projects() {
        let r = get(
            &url(&emu, &format!("_emulator/truth?project_id={}", p.id)),
            &[],
        )
        .await;
        assert_eq!(r.status, 200);
        let ids: Vec<String> = r.body["trace_ids"]
            .as_array()
            .expect("ids")
            .iter()
            .map(|v| v.as_str().expect("id").to_owned())
            .collect();
        assert_eq!(ids, emu.visible_trace_ids(&p.id));
        assert_eq!(ids, emu.visible_trace_ids(&p.name), "name works too");
        assert_eq!(r.body["visible_count"], 120);
        let token = token(&emu, &p.name).await;
        let (traces, _) = walk(&emu, &token, &format!("v3/{}/traces?limit=200", p.id)).await;
        let mut api: Vec<String> = traces
            .iter()
            .map(|t| t["trace_id"].as_str().expect("id").to_owned())
            .collect();
        api.reverse();
        assert_eq!(api, ids, "API newest-first = truth reversed");
    }
    let r = get(&url(&emu, "_emulator/truth"), &[]).await;
    assert_eq!(r.status, 400);
    assert!(emu.visible_trace_ids("nope").is_empty());
}
