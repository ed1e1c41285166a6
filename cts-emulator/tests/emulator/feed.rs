//! Live traces, ingestion delay (late arrivals) and determinism.

use std::collections::HashSet;
use std::time::Duration;

use cts_emulator::EmulatorConfig;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn traces_become_visible_only_after_their_ingestion_delay() {
    let cfg = EmulatorConfig {
        history_count: 0,
        live_rate_per_sec: 40.0,
        max_ingestion_delay: Duration::from_millis(1500),
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let pid = emu.projects()[0].id.clone();
    let token = token(&emu, "eu-de_demo").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        emu.pending_count(&pid).expect("known") > 0,
        "some traces wait for their delay"
    );

    // Everything with time < t0, as visible at t0.
    let t0 = now_ms();
    let q = format!("v3/{pid}/traces?limit=200&from={}&to={t0}", t0 - 60_000);
    let (first, _) = walk(&emu, &token, &q).await;
    let seen_at_t0 = now_ms();
    for t in &first {
        let (time, rt) = (
            t["time"].as_i64().expect("time"),
            t["record_time"].as_i64().expect("rt"),
        );
        assert!(rt >= time, "recorded after it happened");
        assert!(rt <= seen_at_t0, "not visible before its record time");
        assert!(
            rt - time <= 1500 + 50,
            "delay within the configured maximum (+ tie shift)"
        );
    }
    tokio::time::sleep(Duration::from_millis(1700)).await;
    // Same window later: late arrivals with time < t0 have shown up.
    let (second, _) = walk(&emu, &token, &q).await;
    let before: HashSet<&Value> = first.iter().map(|t| &t["trace_id"]).collect();
    let late: Vec<&Value> = second
        .iter()
        .filter(|t| !before.contains(&t["trace_id"]))
        .collect();
    assert!(second.len() > first.len());
    assert!(!late.is_empty(), "late arrivals exist");
    for t in &late {
        assert!(t["time"].as_i64().expect("time") < t0);
        assert!(
            t["record_time"].as_i64().expect("rt") >= t0 - 20,
            "recorded around or after the first look"
        );
    }
    assert!(
        first
            .iter()
            .all(|t| second.iter().any(|u| u["trace_id"] == t["trace_id"])),
        "nothing disappears"
    );
    // Truth agrees with what the API shows.
    let truth: HashSet<String> = emu.visible_trace_ids(&pid).into_iter().collect();
    assert!(second
        .iter()
        .all(|t| truth.contains(t["trace_id"].as_str().expect("id"))));
}

#[tokio::test]
async fn live_rate_is_roughly_kept() {
    let emu = start(EmulatorConfig {
        history_count: 0,
        live_rate_per_sec: 50.0,
        ..EmulatorConfig::default()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let n = emu.visible_trace_ids("eu-de_demo").len();
    assert!((50..=170).contains(&n), "{n} traces after 2 s at 50/s");
}

async fn history_ids(seed: u64) -> (Vec<String>, Vec<Value>) {
    let cfg = EmulatorConfig {
        seed,
        projects: vec!["eu-de_a".into(), "eu-nl_b".into()],
        history_count: 200,
        history_span: Duration::from_secs(1800),
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let p = emu.projects()[1].clone();
    let token = token(&emu, &p.name).await;
    let (traces, _) = walk(&emu, &token, &format!("v3/{}/traces?limit=200", p.id)).await;
    // Strip the times, which depend on the start time.
    let stripped = traces
        .into_iter()
        .map(|mut t| {
            let o = t.as_object_mut().expect("object");
            o.remove("time");
            o.remove("record_time");
            t
        })
        .collect();
    let mut ids = emu.visible_trace_ids(&p.id);
    ids.sort();
    (ids, stripped)
}

#[tokio::test]
async fn same_seed_same_traces() {
    let (a_ids, a) = history_ids(99).await;
    let (b_ids, b) = history_ids(99).await;
    let (c_ids, _) = history_ids(100).await;
    assert_eq!(a_ids.len(), 200);
    assert_eq!(a_ids, b_ids);
    let key = |v: &[Value]| {
        let mut v: Vec<String> = v.iter().map(Value::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(key(&a), key(&b), "same content apart from times");
    assert!(
        a_ids.iter().all(|id| !c_ids.contains(id)),
        "another seed, other traces"
    );
}
