use super::*;
use ce_delivery::encoding as http;
use ce_delivery::Overrides;
use cloudevents::AttributesReader;
use serde_json::json;

fn ctx() -> EventContext {
    let endpoint =
        Url::parse("https://cts.eu-de.otc.t-systems.com/v3/0391e4486e864c26be5654c522f440f2")
            .expect("url");
    EventContext::new(
        &endpoint,
        "0391e4486e864c26be5654c522f440f2",
        "dom-1",
        "eu-de",
        "system",
    )
}

fn trace() -> Trace {
    serde_json::from_value(json!({
        "trace_id": "e001ccb9-bc09-11e6-b00b-4b2a61338db6",
        "trace_name": "deleteEip", "trace_rating": "warning", "trace_type": "ConsoleAction",
        "service_type": "VPC", "resource_type": "eip", "resource_name": "192.144.163.1",
        "resource_id": "d502809d-0d1d-41ce-9690-784282142ccc",
        "time": 1472148708232_i64, "record_time": 1481066128032_i64, "code": "200",
        "user": {"id": "u1", "name": "alice", "domain": {"id": "dom-from-trace", "name": "acme"}}
    }))
    .expect("trace")
}

fn ext(ev: &Event, name: &str) -> Option<String> {
    ev.extension(name).map(|v| v.to_string())
}

#[test]
fn source_is_stable_and_version_free() {
    let v3 = Url::parse("https://cts.eu-de.otc.t-systems.com/v3/p1").expect("url");
    let v1 = Url::parse("https://cts.eu-de.otc.t-systems.com/v1.0/p1/").expect("url");
    let a = EventContext::source_uri(&v3, "p1", "system");
    assert_eq!(
        a,
        "https://cts.eu-de.otc.t-systems.com/projects/p1/trackers/system"
    );
    assert_eq!(a, EventContext::source_uri(&v1, "p1", "system"));
    let local = Url::parse("http://127.0.0.1:18443/v1.0/p1").expect("url");
    assert_eq!(
        EventContext::source_uri(&local, "p1", "system"),
        "http://127.0.0.1:18443/projects/p1/trackers/system"
    );
}

#[test]
fn maps_every_attribute() {
    let ev = to_event(&trace(), &ctx(), &Overrides::default().extensions).expect("maps");
    assert_eq!(ev.id(), "e001ccb9-bc09-11e6-b00b-4b2a61338db6");
    assert_eq!(
        ev.source().to_string(),
        "https://cts.eu-de.otc.t-systems.com/projects/0391e4486e864c26be5654c522f440f2/trackers/system"
    );
    assert_eq!(ev.ty(), "com.otc.cts.trace.vpc.deleteeip");
    assert_eq!(ev.subject(), Some("192.144.163.1"));
    assert_eq!(ev.time().map(|t| t.timestamp_millis()), Some(1472148708232));
    assert_eq!(ev.datacontenttype(), Some("application/json"));
    for (name, want) in [
        ("service", "VPC"),
        ("operation", "deleteEip"),
        ("rating", "warning"),
        ("resourcetype", "eip"),
        ("resourceid", "d502809d-0d1d-41ce-9690-784282142ccc"),
        ("user", "alice"),
        ("region", "eu-de"),
        ("domain", "dom-1"),
        ("project", "0391e4486e864c26be5654c522f440f2"),
        ("tracker", "system"),
    ] {
        assert_eq!(ext(&ev, name).as_deref(), Some(want), "extension {name}");
    }
    let Some(cloudevents::Data::Json(data)) = ev.data() else {
        panic!("data is JSON: {:?}", ev.data());
    };
    let back: Trace = serde_json::from_value(data.clone()).expect("data decodes as a Trace");
    assert_eq!(back, trace());
}

#[test]
fn every_extension_name_is_valid_cloudevents() {
    let ev = to_event(&trace(), &ctx(), &Overrides::default().extensions).expect("maps");
    for (name, _) in ev.iter_extensions() {
        assert!(ce_delivery::overrides::valid_extension_name(name), "{name}");
    }
}

#[test]
fn subject_falls_back_to_resource_id_and_time_to_record_time() {
    let mut t = trace();
    t.resource_name = Some("  ".into());
    t.time = None;
    let ev = to_event(&t, &ctx(), &Overrides::default().extensions).expect("maps");
    assert_eq!(ev.subject(), Some("d502809d-0d1d-41ce-9690-784282142ccc"));
    assert_eq!(ev.time().map(|t| t.timestamp_millis()), Some(1481066128032));
}

#[test]
fn sparse_trace_still_carries_graph_context() {
    let t: Trace = serde_json::from_value(json!({"trace_id": "x1", "trace_type": "SystemAction"}))
        .expect("trace");
    let ev = to_event(&t, &ctx(), &Overrides::default().extensions).expect("maps");
    assert_eq!(ev.ty(), "com.otc.cts.trace.unknown.unknown");
    assert_eq!(ev.subject(), None);
    assert_eq!(ext(&ev, "user"), None);
    assert_eq!(
        ext(&ev, "project").as_deref(),
        Some("0391e4486e864c26be5654c522f440f2")
    );
    assert_eq!(ext(&ev, "region").as_deref(), Some("eu-de"));
    assert_eq!(ext(&ev, "domain").as_deref(), Some("dom-1"));
}

#[test]
fn domain_falls_back_to_the_trace_user_domain() {
    let mut c = ctx();
    c.domain_id.clear();
    let ev = to_event(&trace(), &c, &Overrides::default().extensions).expect("maps");
    assert_eq!(ext(&ev, "domain").as_deref(), Some("dom-from-trace"));
}

#[test]
fn type_segments_are_sanitized() {
    let mut t = trace();
    t.service_type = Some("OBS".into());
    t.trace_name = Some("put.Object Acl".into());
    assert_eq!(event_type(&t), "com.otc.cts.trace.obs.put_object_acl");
}

#[test]
fn missing_id_is_an_error() {
    let mut t = trace();
    t.trace_id = Some(" ".into());
    assert_eq!(
        to_event(&t, &ctx(), &Overrides::default().extensions).expect_err("no id"),
        MapError::MissingId
    );
}

#[test]
fn overrides_are_applied_last() {
    let o =
        Overrides::parse(r#"{"extensions":{"team":"ops","region":"override"}}"#).expect("valid");
    let ev = to_event(&trace(), &ctx(), &o.extensions).expect("maps");
    assert_eq!(ext(&ev, "team").as_deref(), Some("ops"));
    assert_eq!(ext(&ev, "region").as_deref(), Some("override"));
}

#[test]
fn original_extensions_are_off_by_default() {
    let ev = to_event(&trace(), &ctx(), &Overrides::default().extensions).expect("maps");
    for name in ["tenant", "status", "code"] {
        assert_eq!(ext(&ev, name), None, "{name}");
    }
}

#[test]
fn original_extensions_carry_what_the_original_sink_reads() {
    let c = ctx().with_original_extensions(true);
    let ev = to_event(&trace(), &c, &Overrides::default().extensions).expect("maps");
    for (name, want) in [
        ("tenant", "0391e4486e864c26be5654c522f440f2"),
        ("status", "warning"),
        ("code", "200"),
        ("resourceid", "d502809d-0d1d-41ce-9690-784282142ccc"),
        ("domain", "dom-1"),
        ("region", "eu-de"),
    ] {
        assert_eq!(ext(&ev, name).as_deref(), Some(want), "extension {name}");
    }
    // Ours stay as they are.
    assert_eq!(ext(&ev, "rating").as_deref(), Some("warning"));
    assert_eq!(
        ext(&ev, "project").as_deref(),
        Some("0391e4486e864c26be5654c522f440f2")
    );
    for (name, _) in ev.iter_extensions() {
        assert!(ce_delivery::overrides::valid_extension_name(name), "{name}");
    }
}

#[test]
fn original_extensions_are_empty_not_absent_when_the_trace_lacks_them() {
    // As the original sent `Ce-Status: ` for a trace without trace_status.
    let t: Trace = serde_json::from_value(json!({"trace_id": "x1", "trace_type": "SystemAction"}))
        .expect("trace");
    let c = ctx().with_original_extensions(true);
    let ev = to_event(&t, &c, &Overrides::default().extensions).expect("maps");
    assert_eq!(ext(&ev, "status").as_deref(), Some(""));
    assert_eq!(ext(&ev, "code").as_deref(), Some(""));
    assert_eq!(ext(&ev, "resourceid").as_deref(), Some(""));
    assert_eq!(
        ext(&ev, "tenant").as_deref(),
        Some("0391e4486e864c26be5654c522f440f2")
    );
    let m = http::binary(&ev).expect("binary");
    assert!(m
        .headers
        .iter()
        .any(|(n, v)| n == "ce-status" && v.is_empty()));
}

#[test]
fn v2_trace_status_becomes_status() {
    let mut t = trace();
    t.trace_rating = None;
    let v2: Trace = serde_json::from_value(json!({"trace_id": "x2", "trace_status": "incident"}))
        .expect("trace");
    t.trace_rating = v2.trace_rating;
    let ev = to_event(
        &t,
        &ctx().with_original_extensions(true),
        &Overrides::default().extensions,
    )
    .expect("maps");
    assert_eq!(ext(&ev, "status").as_deref(), Some("incident"));
}

#[test]
fn overrides_still_win_over_original_extensions() {
    let o = Overrides::parse(r#"{"extensions":{"tenant":"mine"}}"#).expect("valid");
    let ev = to_event(
        &trace(),
        &ctx().with_original_extensions(true),
        &o.extensions,
    )
    .expect("maps");
    assert_eq!(ext(&ev, "tenant").as_deref(), Some("mine"));
}

#[test]
fn non_ascii_trace_text_leaves_percent_encoded_in_binary_mode_and_as_is_in_structured() {
    let mut t = trace();
    t.resource_name = Some("bücket-名前-\u{202E}".into());
    if let Some(u) = t.user.as_mut() {
        u.name = Some("jürgen Straße".into());
    }
    let ev = to_event(&t, &ctx(), &Overrides::default().extensions).expect("maps");
    let m = http::binary(&ev).expect("binary");
    let h = |name: &str| {
        m.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        h("ce-subject").as_deref(),
        Some("b%C3%BCcket-%E5%90%8D%E5%89%8D-%E2%80%AE")
    );
    assert_eq!(h("ce-user").as_deref(), Some("j%C3%BCrgen%20Stra%C3%9Fe"));
    assert_eq!(h("ce-time").as_deref(), Some("2016-08-25T18:11:48.232Z"));
    let body: Trace = serde_json::from_slice(&m.body).expect("body is the trace");
    assert_eq!(body.resource_name.as_deref(), Some("bücket-名前-\u{202E}"));
    let s: serde_json::Value =
        serde_json::from_slice(&http::structured(&ev).expect("structured")).expect("json");
    assert_eq!(s["subject"], "bücket-名前-\u{202E}");
    assert_eq!(s["user"], "jürgen Straße");
    assert_eq!(s["time"], "2016-08-25T18:11:48.232Z");
}

/// A request the original Go exporter sent (captured on loopback while it
/// polled the emulator's v2 API): the same trace through this exporter, with
/// the original extensions on, must carry every header the original sink
/// reads with the same value.
#[test]
fn original_extensions_match_a_request_the_original_exporter_sent() {
    let body = r#"{"resource_id":"6293638e-8ede-43da-ab7d-db14335675cf","trace_name":"extendVolume","trace_type":"ApiCall","request":"{\"extendVolume\":{}}","response":"{\"job_id\":\"ff808083df25a7c0550c4f34ff036b04\"}","code":"202","api_version":"v2","record_time":1796613664495,"trace_id":"ac1c9492-06c0-4627-bb8e-0578a0cc7a31","time":1796613664495,"user":{"id":"ed4d007f1ab481a33ca09bc5eb501def","name":"sven.klein","domain":{"id":"cc2d87d27147ba8934614f2ccc84a766","name":"OTC00000000001000000001"}},"service_type":"EVS","resource_type":"evs","source_ip":"91.64.213.219","resource_name":"scratch-stage-39","request_id":"28c1bb4bb7fdfcb177bbd524c9dab45e","endpoint":"https://evs.eu-de.otc.t-systems.com","resource_url":"/v2/1a4d5e5fc6a77416f1a992ac2fe57409/cloudvolumes/6293638e-8ede-43da-ab7d-db14335675cf/action"}"#;
    let original = [
        ("Ce-Code", "202"),
        ("Ce-Domain", "cc2d87d27147ba8934614f2ccc84a766"),
        ("Ce-Id", "ac1c9492-06c0-4627-bb8e-0578a0cc7a31"),
        ("Ce-Region", "eu-de"),
        ("Ce-Resourceid", "6293638e-8ede-43da-ab7d-db14335675cf"),
        ("Ce-Specversion", "1.0"),
        ("Ce-Status", ""),
        ("Ce-Subject", "scratch-stage-39"),
        ("Ce-Tenant", "1a4d5e5fc6a77416f1a992ac2fe57409"),
        ("Ce-Time", "2026-12-07T03:21:04.495Z"),
    ];
    let t: Trace = serde_json::from_str(body).expect("the captured trace");
    let endpoint =
        Url::parse("http://127.0.0.1:18732/v2.0/1a4d5e5fc6a77416f1a992ac2fe57409/").expect("url");
    let c = EventContext::new(
        &endpoint,
        "1a4d5e5fc6a77416f1a992ac2fe57409",
        "cc2d87d27147ba8934614f2ccc84a766",
        "eu-de",
        "system",
    )
    .with_original_extensions(true);
    let ev = to_event(&t, &c, &Overrides::default().extensions).expect("maps");
    let m = http::binary(&ev).expect("binary");
    for (name, want) in original {
        let got = m
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        assert_eq!(got, Some(want), "{name}");
    }
    assert_eq!(m.content_type.as_deref(), Some("application/json"));
}

#[test]
fn the_project_name_travels_only_when_the_configuration_names_it() {
    let plain = to_event(&trace(), &ctx(), &Overrides::default().extensions).expect("maps");
    assert_eq!(ext(&plain, "projectname"), None);
    let named = ctx().with_project_name(Some(" eu-de_münchen "));
    let ev = to_event(&trace(), &named, &Overrides::default().extensions).expect("maps");
    assert_eq!(ext(&ev, "projectname").as_deref(), Some("eu-de_münchen"));
    let blank = ctx().with_project_name(Some("  "));
    let ev = to_event(&trace(), &blank, &Overrides::default().extensions).expect("maps");
    assert_eq!(ext(&ev, "projectname"), None);
}

#[cfg(feature = "archive")]
#[test]
fn an_archive_context_names_the_regional_cts_host() {
    use crate::archive::{Identity, Project};
    let id = Identity {
        region: "eu-ch2".into(),
        tracker: "trackér".into(),
        project: Project::Id("0391e4486e864c26be5654c522f440f2".into()),
        domain: Some("dom-1".into()),
    };
    let c = EventContext::of_archive(&id).expect("an id");
    assert_eq!(
        c.source,
        "https://cts.eu-ch2.sc.otc.t-systems.com/projects/0391e4486e864c26be5654c522f440f2/trackers/trackér"
    );
    assert_eq!(
        (c.region.as_str(), c.domain_id.as_str()),
        ("eu-ch2", "dom-1")
    );
    let named = Identity {
        project: Project::Named(Some("x".into())),
        domain: None,
        ..id
    };
    assert_eq!(EventContext::of_archive(&named), None);
}
