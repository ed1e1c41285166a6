//! What the official OTC SDK relies on (issue 14, otc-sdk-facts.md): the v2
//! status field `trace_status`, the domain lookup `GET /v3/auth/domains`,
//! `X-Domain-Id` instead of `X-Project-Id` on AK/SK calls, Keystone's version
//! list at `/`, and a `next` marker that ends a `trace_id` query.

use std::time::Duration;

use cts_emulator::{Emulator, EmulatorConfig, V2StatusField};
use serde_json::Value;

use crate::common::*;

fn cfg(history: usize) -> EmulatorConfig {
    EmulatorConfig {
        projects: vec!["eu-de_a".into(), "eu-de_b".into()],
        history_count: history,
        history_span: Duration::from_secs(1800),
        ..EmulatorConfig::default()
    }
}

/// GET `path` signed in the SDK's form (variant B), `signed_extra` inside the
/// signature and `unsigned` added afterwards, as gophertelekomcloud does
/// with `X-Project-Id` / `X-Domain-Id`.
async fn aksk_get(
    emu: &Emulator,
    path: &str,
    signed_extra: &[(&str, &str)],
    unsigned: &[(&'static str, String)],
) -> Reply {
    let c = emu.credentials();
    let u = url(emu, path);
    let mut hs = signed_headers(
        &u,
        signed_extra,
        &c.ak,
        c.sk.expose(),
        &sdk_date(0),
        Variant::B,
    );
    hs.extend(unsigned.iter().cloned());
    get(
        &u,
        &hs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
    )
    .await
}

fn traces(r: &Reply) -> &Vec<Value> {
    r.body["traces"].as_array().expect("traces")
}

#[tokio::test]
async fn v2_names_the_status_trace_status_by_default_and_trace_rating_on_request() {
    assert_eq!(
        EmulatorConfig::default().v2_status_field,
        V2StatusField::TraceStatus
    );
    let emu = start(cfg(60)).await;
    let p = emu.projects()[0].clone();
    let tok = token(&emu, &p.name).await;
    let v2 = get_with_token(&emu, &tok, &format!("v2.0/{}/system/trace?limit=200", p.id)).await;
    let v3 = get_with_token(&emu, &tok, &format!("v3/{}/traces?limit=200", p.id)).await;
    assert_eq!(traces(&v2).len(), 60);
    for (a, b) in traces(&v2).iter().zip(traces(&v3)) {
        assert_eq!(a["trace_id"], b["trace_id"]);
        assert_eq!(a["trace_status"], b["trace_rating"], "{a}");
        assert!(a.get("trace_rating").is_none() && b.get("trace_status").is_none());
        // Nothing else changes: the same object under the other key name.
        let mut renamed = a.as_object().expect("object").clone();
        let st = renamed.shift_remove("trace_status").expect("status");
        renamed.insert("trace_rating".into(), st);
        let mut want = b.as_object().expect("object").clone();
        want.sort_keys();
        renamed.sort_keys();
        assert_eq!(renamed, want);
    }
    // The filter the SDK sends, and a single trace by id.
    let warn = traces(&v3)
        .iter()
        .filter(|t| t["trace_rating"] == "warning")
        .count();
    assert!(warn > 0, "the sample has warnings");
    let f = get_with_token(
        &emu,
        &tok,
        &format!("v2.0/{}/system/trace?limit=200&trace_status=warning", p.id),
    )
    .await;
    assert_eq!(traces(&f).len(), warn);
    assert!(traces(&f).iter().all(|t| t["trace_status"] == "warning"));
    let id = traces(&v3)[7]["trace_id"].as_str().expect("id");
    let one = get_with_token(
        &emu,
        &tok,
        &format!("v2.0/{}/system/trace?trace_id={id}", p.id),
    )
    .await;
    assert_eq!(
        traces(&one)[0]["trace_status"],
        traces(&v3)[7]["trace_rating"]
    );

    // The option keeps the current documentation's name.
    let old = start(EmulatorConfig {
        v2_status_field: V2StatusField::TraceRating,
        ..cfg(20)
    })
    .await;
    let p = old.projects()[0].clone();
    let tok = token(&old, &p.name).await;
    let v2 = get_with_token(&old, &tok, &format!("v2.0/{}/system/trace?limit=200", p.id)).await;
    assert!(traces(&v2)
        .iter()
        .all(|t| t["trace_rating"].is_string() && t.get("trace_status").is_none()));
}

#[tokio::test]
async fn the_domain_is_looked_up_by_name() {
    let emu = start(cfg(5)).await;
    let d = emu.domain();
    let pid = emu.projects()[0].id.clone();
    // As the SDK does it: signed, X-Project-Id added after signing.
    let r = aksk_get(
        &emu,
        &format!("v3/auth/domains?name={}", d.name),
        &[],
        &[("X-Project-Id", pid.clone())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let domains = r.body["domains"].as_array().expect("domains");
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0]["id"], d.id.as_str());
    assert_eq!(domains[0]["name"], d.name.as_str());
    assert_eq!(domains[0]["enabled"], true);
    // Without a name: the caller's domain too; with a token as well.
    let tok = token(&emu, &emu.projects()[0].name).await;
    let r = get(
        &url(&emu, "v3/auth/domains"),
        &[("X-Auth-Token", tok.clone())],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["domains"][0]["id"], d.id.as_str());
    // Other names, hostile ones included: an empty list, never an error.
    let huge = "Ä".repeat(5000);
    for name in [
        "OTC-other",
        "otc00000000001000000001",
        "%F0%9F%98%80%20x",
        huge.as_str(),
        "",
    ] {
        let r = get(
            &url(&emu, &format!("v3/auth/domains?name={name}")),
            &[("X-Auth-Token", tok.clone())],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let n = r.body["domains"].as_array().expect("domains").len();
        assert_eq!(n, usize::from(name.is_empty()), "name {:.40}", name);
    }
    // Without credentials: Keystone's 401.
    let r = get(&url(&emu, "v3/auth/domains?name=x"), &[]).await;
    assert_eq!(r.status, 401);
    assert!(r.body["error"]["message"].is_string(), "{}", r.body);
}

#[tokio::test]
async fn aksk_calls_with_x_domain_id_or_x_project_id_are_served() {
    let emu = start(cfg(30)).await;
    let did = emu.domain().id;
    let pid = emu.projects()[0].id.clone();
    let paths = [
        format!("v1.0/{pid}/system/trace?limit=5"),
        format!("v2.0/{pid}/system/trace?limit=5"),
        format!("v3/{pid}/traces?limit=5"),
        format!("v3/{pid}/trackers"),
        format!("v1.0/{pid}/tracker"),
    ];
    for path in &paths {
        // The SDK's set after the domain lookup: X-Domain-Id only, unsigned.
        let sdk = aksk_get(&emu, path, &[], &[("X-Domain-Id", did.clone())]).await;
        assert_eq!(sdk.status, 200, "{path}: {}", sdk.body);
        // Signed X-Domain-Id, and our client's set (signed X-Project-Id).
        let signed = aksk_get(&emu, path, &[("X-Domain-Id", &did)], &[]).await;
        assert_eq!(signed.status, 200, "{path}: {}", signed.body);
        let ours = aksk_get(&emu, path, &[("X-Project-Id", &pid)], &[]).await;
        assert_eq!(ours.status, 200, "{path}: {}", ours.body);
        assert_eq!(
            sdk.body, ours.body,
            "{path}: same answer for both header sets"
        );
    }
    // A domain id that is not this domain's: 403 naming both ids.
    let r = aksk_get(&emu, &paths[2], &[], &[("X-Domain-Id", "0".repeat(32))]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let msg = r.body["error_msg"].as_str().expect("error_msg");
    assert!(msg.contains("X-Domain-Id") && msg.contains(&did), "{msg}");
    // X-Domain-Id does not lift the project check: another project's
    // X-Project-Id still conflicts with the path.
    let other = emu.projects()[1].id.clone();
    let r = aksk_get(
        &emu,
        &paths[2],
        &[("X-Project-Id", &other)],
        &[("X-Domain-Id", did.clone())],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // The catalog with X-Domain-Id alone: the domain's (identity only).
    let r = aksk_get(
        &emu,
        "v3/auth/catalog",
        &[],
        &[("X-Domain-Id", did.clone())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cat = r.body["catalog"].as_array().expect("catalog");
    assert!(cat.iter().any(|e| e["type"] == "identity"));
    assert!(!cat.iter().any(|e| e["type"] == "cts"), "{}", r.body);
    let r = aksk_get(&emu, "v3/auth/catalog", &[], &[("X-Domain-Id", "x".into())]).await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[tokio::test]
async fn the_root_is_keystones_version_list() {
    let emu = start(cfg(1)).await;
    let r = get(&url(&emu, "/"), &[]).await;
    assert_eq!(r.status, 200);
    let values = r.body["versions"]["values"].as_array().expect("values");
    assert_eq!(values.len(), 1, "{}", r.body);
    let v = &values[0];
    assert!(v["id"].as_str().expect("id").starts_with("v3"));
    assert_eq!(v["status"], "stable");
    let href = v["links"]
        .as_array()
        .expect("links")
        .iter()
        .find(|l| l["rel"] == "self")
        .expect("self link")["href"]
        .as_str()
        .expect("href")
        .to_owned();
    assert_eq!(href, format!("{}/", emu.iam_url()));
    // /v3 answers the same version object.
    let r3 = get(&url(&emu, "v3"), &[]).await;
    assert_eq!(&r3.body["version"], v);
}

#[tokio::test]
async fn with_marker_on_last_page_a_trace_id_query_ends_after_its_marker() {
    let emu = start(EmulatorConfig {
        marker_on_last_page: true,
        ..cfg(20)
    })
    .await;
    let p = emu.projects()[0].clone();
    let tok = token(&emu, &p.name).await;
    let all = get_with_token(&emu, &tok, &format!("v3/{}/traces?limit=200", p.id)).await;
    let ids: Vec<String> = traces(&all)
        .iter()
        .map(|t| t["trace_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 20);
    for base in [
        format!("v1.0/{}/system/trace", p.id),
        format!("v2.0/{}/system/trace", p.id),
        format!("v3/{}/traces", p.id),
    ] {
        for id in [&ids[0], &ids[10], &ids[19]] {
            // A client following markers, as every pager does.
            let mut path = format!("{base}?trace_id={id}");
            let mut seen = Vec::new();
            for _ in 0..5 {
                let r = get_with_token(&emu, &tok, &path).await;
                assert_eq!(r.status, 200, "{path}: {}", r.body);
                let page: Vec<String> = traces(&r)
                    .iter()
                    .map(|t| t["trace_id"].as_str().expect("id").to_owned())
                    .collect();
                seen.extend(page.iter().cloned());
                match r.body["meta_data"]["marker"].as_str() {
                    Some(m) if !page.is_empty() => {
                        assert_eq!(m, id.as_str());
                        path = format!("{base}?trace_id={id}&next={m}");
                    }
                    _ => break,
                }
            }
            assert_eq!(
                seen,
                vec![id.clone()],
                "{base}: the trace once, then an empty page"
            );
        }
        // A marker newer than the trace still finds it; an unknown one is a 400.
        let r = get_with_token(
            &emu,
            &tok,
            &format!("{base}?trace_id={}&next={}", ids[10], ids[0]),
        )
        .await;
        assert_eq!(traces(&r).len(), 1, "{}", r.body);
        let r = get_with_token(
            &emu,
            &tok,
            &format!("{base}?trace_id={}&next=nope", ids[10]),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
}
