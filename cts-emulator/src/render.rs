//! Writes a [`TraceRecord`] as CTS trace JSON, in either the inferred real
//! wire shape or the documented example shape (cts-api.md §1.4, §1.5). The
//! field names come from the spec, not from any client crate, so a wrong
//! name in a client shows up as a failing test.

use serde_json::{Map, Value};

use crate::generator::TraceRecord;
use crate::Shape;

/// The trace as a JSON object.
///
/// `status_field` is `trace_rating` (v1, v3, current v2 docs) or
/// `trace_status` (old v2). `record_time` is the ingestion time (epoch ms).
pub(crate) fn trace_json(
    rec: &TraceRecord,
    shape: Shape,
    status_field: &str,
    record_time: i64,
) -> Value {
    let mut m = Map::with_capacity(22);
    m.insert("trace_id".into(), rec.trace_id.clone().into());
    m.insert("trace_name".into(), rec.trace_name.clone().into());
    m.insert(status_field.into(), rec.rating.as_str().into());
    m.insert("trace_type".into(), rec.trace_type.as_str().into());
    m.insert("service_type".into(), rec.service_type.clone().into());
    m.insert("resource_type".into(), rec.resource_type.clone().into());
    m.insert("resource_id".into(), rec.resource_id.clone().into());
    m.insert("resource_name".into(), rec.resource_name.clone().into());
    if let Some(u) = &rec.user {
        let domain = serde_json::json!({"name": u.domain.name, "id": u.domain.id});
        let mut user = serde_json::json!({"id": u.id, "name": u.name, "domain": domain});
        if let Some(p) = &rec.assumed_by {
            let pd = serde_json::json!({"name": p.domain.name, "id": p.domain.id});
            user["assumedBy"] =
                serde_json::json!({"user": {"id": p.id, "name": p.name, "domain": pd}});
        }
        m.insert("user".into(), user);
    }
    m.insert(
        "source_ip".into(),
        rec.source_ip.clone().unwrap_or_default().into(),
    );
    m.insert("request_id".into(), rec.request_id.clone().into());
    match shape {
        Shape::Real => m.insert("code".into(), rec.code.to_string().into()),
        Shape::Doc => m.insert("code".into(), rec.code.into()),
    };
    m.insert("api_version".into(), rec.api_version.clone().into());
    if let Some(req) = &rec.request {
        m.insert("request".into(), req.to_string().into());
    }
    if let Some(resp) = &rec.response {
        match shape {
            Shape::Real => m.insert("response".into(), resp.to_string().into()),
            Shape::Doc => m.insert("response".into(), resp.clone()),
        };
    }
    if let Some(e) = &rec.endpoint {
        m.insert("endpoint".into(), e.clone().into());
    }
    m.insert("resource_url".into(), rec.resource_url.clone().into());
    if let Some(l) = &rec.location_info {
        m.insert("location_info".into(), l.clone().into());
    }
    m.insert("time".into(), rec.time.into());
    m.insert("record_time".into(), record_time.into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::{Generator, Rating, TenantSpec, TraceType};

    fn records(n: usize) -> Vec<TraceRecord> {
        let mut g = Generator::new(3, TenantSpec::new("OTC1", "eu-de_x", 20));
        (0..n)
            .map(|i| g.next_record(1_700_000_000_000 + i as i64))
            .collect()
    }

    #[test]
    fn real_shape_uses_strings() {
        for r in records(300) {
            let v = trace_json(&r, Shape::Real, "trace_rating", r.time + 5);
            assert_eq!(v["code"], Value::String(r.code.to_string()));
            assert_eq!(v["trace_rating"], r.rating.as_str());
            assert_eq!(v["record_time"], r.time + 5);
            if let Some(resp) = &r.response {
                let s = v["response"].as_str().expect("response is a string");
                assert_eq!(&serde_json::from_str::<Value>(s).expect("inner JSON"), resp);
            }
            if let Some(req) = &r.request {
                assert!(v["request"].is_string(), "{req}");
            }
            match r.trace_type {
                TraceType::SystemAction => {
                    assert!(v.get("user").is_none());
                    assert_eq!(v["source_ip"], "");
                }
                _ => {
                    assert_eq!(
                        v["user"]["name"],
                        r.user.as_ref().expect("user").name.as_str()
                    );
                    assert_eq!(v["user"]["domain"]["name"], "OTC1");
                }
            }
        }
    }

    #[test]
    fn doc_shape_uses_number_and_object() {
        let recs = records(300);
        let failed = recs
            .iter()
            .find(|r| r.rating != Rating::Normal)
            .expect("some failures");
        let v = trace_json(failed, Shape::Doc, "trace_status", 1);
        assert!(v["code"].is_u64());
        assert!(v["response"]["code"].is_string(), "{v}");
        assert_eq!(v["trace_status"], failed.rating.as_str());
        assert!(v.get("trace_rating").is_none());
    }
}
