//! The pure mapping, pinned by one snapshot per fixture, plus the decisions
//! that matter most asserted by name (so a careless snapshot update cannot
//! silently undo them).

use crate::fixtures;
use serde_json::json;
use trace_graph::map_trace;
use trace_graph::model::{Channel, UserKind};

#[test]
fn every_fixture_maps_as_snapshotted() {
    for f in fixtures::all() {
        let out = match map_trace(&f.trace(), &f.context) {
            Ok(row) => json!({ "row": row }),
            Err(e) => json!({ "error": e.to_string() }),
        };
        insta::with_settings!({ description => f.about.clone(), omit_expression => true }, {
            insta::assert_json_snapshot!(f.name.clone(), out);
        });
    }
}

#[test]
fn the_user_who_acted_is_the_performer_not_the_resource() {
    let f = fixtures::by_name("01_");
    let row = map_trace(&f.trace(), &f.context).expect("maps");
    assert_eq!(row.user.name.as_deref(), Some("xxx"));
    assert_eq!(row.user.key, "ded649d814464428ba89d04d7955c93e/name:xxx");
    assert_eq!(row.user.kind, UserKind::User);
    let resource = row.resource.expect("resource");
    assert_eq!(resource.name.as_deref(), Some("192.144.163.1"));
    assert_ne!(Some(row.user.key.as_str()), Some(resource.key.as_str()));
    assert_eq!(
        resource.key,
        "0a1b2c3d4e5f60718293a4b5c6d7e8f9/VPC/eip/id:d502809d-0d1d-41ce-9690-784282142ccc"
    );
    assert_eq!(row.status, "warning");
    assert!(row.action.failed);
    assert_eq!(row.action.code.as_deref(), Some("200"));
    assert_eq!(row.action.channel, Channel::Console);
    assert_eq!(row.action.time_ms, 1_472_148_708_232);
    assert_eq!(
        row.action.response.as_deref(),
        Some(r#"{"code":"VPC.0514","message":"Update port fail."}"#)
    );
}

#[test]
fn trace_status_is_read_when_trace_rating_is_absent() {
    let f = fixtures::by_name("02_");
    let row = map_trace(&f.trace(), &f.context).expect("maps");
    assert_eq!(row.status, "normal");
    assert!(!row.action.failed);
    assert_eq!(row.source_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(row.action.request_id.as_deref(), Some("req-5b7c2a10"));
    assert_eq!(row.action.location_info, None, "blank strings are absent");
}

#[test]
fn system_actions_without_user_have_a_system_principal() {
    let f = fixtures::by_name("03_");
    let row = map_trace(&f.trace(), &f.context).expect("maps");
    assert_eq!(row.user.kind, UserKind::System);
    assert_eq!(row.user.key, "ded649d814464428ba89d04d7955c93e/system:AS");
    assert_eq!(row.user.name.as_deref(), Some("system"));
    assert_eq!(row.source_ip, None);
    assert_eq!(row.action.channel, Channel::System);
}

#[test]
fn a_user_given_as_json_string_and_its_assumed_by_user_are_read() {
    let f = fixtures::by_name("04_");
    let row = map_trace(&f.trace(), &f.context).expect("maps");
    assert_eq!(row.user.name.as_deref(), Some("ops-agency/bob"));
    assert_eq!(
        row.user.key,
        "aa11bb22cc33dd44ee55ff6677889900/name:ops-agency%2Fbob"
    );
    let behind = row.assumed_by.expect("assumedBy user");
    assert_eq!(behind.key, "ff00ee11dd22cc33bb44aa5566778899/name:bob");
    assert_eq!(row.status, "incident");
}

#[test]
fn resources_are_keyed_by_id_else_by_name_else_absent() {
    let by_id = fixtures::by_name("05_");
    let row = map_trace(&by_id.trace(), &by_id.context).expect("maps");
    assert!(row
        .resource
        .expect("resource")
        .key
        .ends_with("/OBS/bucket/id:logs-archive-2024"));
    assert!(
        row.action.failed,
        "code 403 is a failure even when rated normal"
    );

    let by_name = fixtures::by_name("06_");
    let row = map_trace(&by_name.trace(), &by_name.context).expect("maps");
    assert!(row
        .resource
        .expect("resource")
        .key
        .ends_with("/VPC/security_group/name:sg-default%2Fingress%3A22"));

    let none = fixtures::by_name("07_");
    let row = map_trace(&none.trace(), &none.context).expect("maps");
    assert!(row.resource.is_none());
}

#[test]
fn unknown_fields_are_kept_not_dropped() {
    let f = fixtures::by_name("08_");
    let row = map_trace(&f.trace(), &f.context).expect("maps");
    let extra: serde_json::Value =
        serde_json::from_str(row.action.extra.as_deref().expect("extra")).expect("json");
    assert_eq!(extra["read_only"], json!(false));
    assert_eq!(extra["tracker_name"], json!("system"));
    let user_extra: serde_json::Value =
        serde_json::from_str(row.action.user_extra.as_deref().expect("userExtra")).expect("json");
    assert_eq!(user_extra["access_key_id"], json!("AKIDEXAMPLE"));
    assert_eq!(user_extra["domain"]["tag"], json!("x"));
    assert_eq!(row.action.time_ms, 1_597_042_369_296, "numeric string time");
}

#[test]
fn record_time_stands_in_for_time_and_an_id_for_a_name() {
    let f = fixtures::by_name("09_");
    let row = map_trace(&f.trace(), &f.context).expect("maps");
    assert_eq!(row.action.time_ms, 1_717_700_000_000);
    assert_eq!(
        row.user.key,
        "ded649d814464428ba89d04d7955c93e/id:2b3c4d5e6f708192a3b4c5d6e7f80912"
    );
    assert_eq!(
        row.user.domain_name.as_deref(),
        Some("OTC-EU-DE-00000000001000000001")
    );
}

#[test]
fn undocumented_values_are_kept_verbatim() {
    let f = fixtures::by_name("10_");
    let row = map_trace(&f.trace(), &f.context).expect("maps");
    assert_eq!(row.status, "critical");
    assert_eq!(row.action.channel, Channel::Other);
    assert_eq!(row.action.trace_type.as_deref(), Some("ObsSDK2"));
    assert_eq!(row.user.kind, UserKind::System, "a blank user names nobody");
    assert_eq!(row.user.key, "name:OTC-EU-DE-00000000001000000001/system:");
    assert!(!row.action.failed);
}

#[test]
fn unwritable_traces_are_rejected_with_the_reason() {
    let cases = [
        ("11_", "MissingTraceId"),
        ("12_", "MissingTime"),
        ("13_", "MissingContext"),
    ];
    for (prefix, variant) in cases {
        let f = fixtures::by_name(prefix);
        let e = map_trace(&f.trace(), &f.context).expect_err("rejected");
        assert!(format!("{e:?}").starts_with(variant), "{prefix}: {e:?}");
    }
}

#[test]
fn long_index_values_map_in_full() {
    // The row keeps every value as the trace gave it; the writer stores
    // long indexed values in index form (see tests/it/long_values.rs).
    let f = fixtures::by_name("01_");
    let mut v = f.trace_json.clone();
    v["resource_id"] = json!("r".repeat(5000));
    let t = serde_json::from_value(v).expect("trace");
    let row = map_trace(&t, &f.context).expect("a long value is not an error");
    let r = row.resource.expect("resource");
    assert_eq!(r.id.as_deref(), Some("r".repeat(5000).as_str()));
    assert!(r.key.ends_with(&format!("/id:{}", "r".repeat(5000))));
}
