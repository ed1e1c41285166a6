//! Converts a [`Batch`] into the Bolt parameters of [`crate::cypher::WRITE`].
//! This is the only place where row values become driver types.
//!
//! Node properties are built straight from the model structs, with the same
//! camelCase names their serde form uses (a test checks that both agree for
//! every fixture), so what the snapshot tests show is what is stored. Absent
//! values are left out (never sent as null). A node given several times in
//! a batch is folded in row order: a later present value wins, an absent one
//! never erases, which is what `SET n += props` does across transactions.

use crate::batch::{ActionEntry, Batch};
use crate::cypher::PARAMS;
use crate::model::{ActionNode, Channel, ResourceNode, TenantNode, UserKind, UserNode};
use neo4rs::{BoltList, BoltMap, BoltNull, BoltString, BoltType};
use std::collections::{BTreeMap, BTreeSet};

fn string(s: &str) -> BoltType {
    BoltType::String(BoltString::from(s))
}

fn list(items: Vec<BoltType>) -> BoltType {
    BoltType::List(BoltList::from(items))
}

/// Writes node properties into a Bolt map.
trait Props {
    fn put_props(&self, m: &mut Putter);
}

/// A Bolt map that skips absent values.
struct Putter(BoltMap);

impl Putter {
    fn str(&mut self, key: &str, value: &str) {
        self.0.put(BoltString::from(key), string(value));
    }
    fn opt(&mut self, key: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }
    fn int(&mut self, key: &str, value: i64) {
        self.0.put(BoltString::from(key), BoltType::from(value));
    }
    fn bool(&mut self, key: &str, value: bool) {
        self.0.put(BoltString::from(key), BoltType::from(value));
    }
}

fn channel(c: Channel) -> &'static str {
    match c {
        Channel::Console => "console",
        Channel::Api => "api",
        Channel::System => "system",
        Channel::Other => "other",
        Channel::Unknown => "unknown",
    }
}

impl Props for ActionNode {
    fn put_props(&self, m: &mut Putter) {
        m.str("traceId", &self.trace_id);
        m.opt("name", &self.name);
        m.opt("traceType", &self.trace_type);
        m.str("channel", channel(self.channel));
        m.str("status", &self.status);
        m.bool("failed", self.failed);
        m.opt("code", &self.code);
        m.int("timeMs", self.time_ms);
        if let Some(t) = self.record_time_ms {
            m.int("recordTimeMs", t);
        }
        m.opt("apiVersion", &self.api_version);
        m.opt("requestId", &self.request_id);
        m.opt("sourceIp", &self.source_ip);
        m.opt("service", &self.service);
        m.opt("resourceType", &self.resource_type);
        m.opt("resourceId", &self.resource_id);
        m.opt("resourceName", &self.resource_name);
        m.opt("userName", &self.user_name);
        m.str("projectId", &self.project_id);
        m.str("region", &self.region);
        m.opt("domainId", &self.domain_id);
        m.opt("request", &self.request);
        m.opt("response", &self.response);
        m.opt("message", &self.message);
        m.opt("locationInfo", &self.location_info);
        m.opt("endpoint", &self.endpoint);
        m.opt("resourceUrl", &self.resource_url);
        m.opt("extra", &self.extra);
        m.opt("userExtra", &self.user_extra);
    }
}

impl Props for UserNode {
    fn put_props(&self, m: &mut Putter) {
        m.str("key", &self.key);
        m.opt("name", &self.name);
        m.opt("id", &self.id);
        m.opt("domainId", &self.domain_id);
        m.opt("domainName", &self.domain_name);
        let kind = match self.kind {
            UserKind::User => "user",
            UserKind::System => "system",
        };
        m.str("kind", kind);
    }
}

impl Props for ResourceNode {
    fn put_props(&self, m: &mut Putter) {
        m.str("key", &self.key);
        m.str("projectId", &self.project_id);
        m.opt("service", &self.service);
        m.opt("type", &self.resource_type);
        m.opt("id", &self.id);
        m.opt("name", &self.name);
    }
}

impl Props for TenantNode {
    fn put_props(&self, m: &mut Putter) {
        m.str("projectId", &self.project_id);
        m.str("region", &self.region);
        m.opt("domainId", &self.domain_id);
        m.opt("domainName", &self.domain_name);
    }
}

/// The versions of one node folded into one property map.
fn folded<T: Props>(versions: &[&T]) -> BoltMap {
    let mut m = Putter(BoltMap::with_capacity(32));
    for v in versions {
        v.put_props(&mut m);
    }
    m.0
}

fn names(set: &BTreeSet<&str>) -> BoltType {
    list(set.iter().map(|s| string(s)).collect())
}

fn strings(items: &[&str]) -> BoltType {
    list(items.iter().map(|s| string(s)).collect())
}

/// `{key, props}` rows, sorted by key.
fn keyed<T: Props>(nodes: &BTreeMap<&str, Vec<&T>>) -> BoltType {
    list(
        nodes
            .iter()
            .map(|(key, versions)| {
                let mut row = BoltMap::with_capacity(2);
                row.put(BoltString::from("key"), string(key));
                row.put(BoltString::from("props"), BoltType::Map(folded(versions)));
                BoltType::Map(row)
            })
            .collect(),
    )
}

/// `{key, props, performedBy, …}` rows, sorted by trace id.
fn actions(entries: &BTreeMap<&str, ActionEntry<'_>>) -> BoltType {
    list(
        entries
            .iter()
            .map(|(key, e)| {
                let l = &e.links;
                let mut row = BoltMap::with_capacity(8);
                row.put(BoltString::from("key"), string(key));
                row.put(
                    BoltString::from("props"),
                    BoltType::Map(folded(&e.versions)),
                );
                for (name, targets) in [
                    ("performedBy", &l.performed_by),
                    ("assumedBy", &l.assumed_by),
                    ("status", &l.status),
                    ("service", &l.service),
                    ("appliedOn", &l.applied_on),
                    ("fromIp", &l.from_ip),
                ] {
                    row.put(BoltString::from(name), strings(targets));
                }
                BoltType::Map(row)
            })
            .collect(),
    )
}

/// Every parameter of [`crate::cypher::WRITE`] for one batch (empty lists included).
pub(crate) fn write_params(batch: &Batch<'_>) -> Vec<(&'static str, BoltType)> {
    let domains = list(
        batch
            .domains
            .iter()
            .map(|(id, name)| {
                let mut row = BoltMap::with_capacity(2);
                row.put(BoltString::from("id"), string(id));
                let name = name.map(string).unwrap_or(BoltType::Null(BoltNull));
                row.put(BoltString::from("name"), name);
                BoltType::Map(row)
            })
            .collect(),
    );
    let values = [
        names(&batch.regions),
        domains,
        names(&batch.services),
        names(&batch.statuses),
        names(&batch.ips),
        keyed(&batch.tenants),
        keyed(&batch.users),
        keyed(&batch.resources),
        actions(&batch.actions),
    ];
    PARAMS.into_iter().zip(values).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::map_trace;
    use crate::model::TraceContext;
    use cts_client::Trace;
    use serde_json::{json, Map, Value};

    /// A Bolt value back as JSON (only the types the writer sends).
    fn json_of(b: &BoltType) -> Value {
        match b {
            BoltType::String(s) => Value::String(s.value.clone()),
            BoltType::Boolean(x) => Value::Bool(x.value),
            BoltType::Integer(i) => json!(i.value),
            BoltType::Null(_) => Value::Null,
            BoltType::List(l) => Value::Array(l.value.iter().map(json_of).collect()),
            BoltType::Map(m) => Value::Object(
                m.value
                    .iter()
                    .map(|(k, v)| (k.value.clone(), json_of(v)))
                    .collect::<Map<_, _>>(),
            ),
            other => panic!("unexpected Bolt value {other:?}"),
        }
    }

    fn serde_props<T: serde::Serialize>(node: &T) -> Value {
        let Value::Object(m) = serde_json::to_value(node).expect("json") else {
            panic!("object")
        };
        Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
    }

    fn rows(traces: Vec<Value>, ctx: &TraceContext) -> Vec<crate::GraphRow> {
        traces
            .into_iter()
            .map(|v| {
                map_trace(&serde_json::from_value::<Trace>(v).expect("trace"), ctx).expect("maps")
            })
            .collect()
    }

    #[test]
    fn bolt_properties_are_the_serde_form_of_the_model() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            let ctx: TraceContext = serde_json::from_value(v["context"].clone()).expect("context");
            let Ok(trace) = serde_json::from_value::<Trace>(v["trace"].clone()) else {
                continue;
            };
            let Ok(row) = map_trace(&trace, &ctx) else {
                continue;
            };
            let name = path.display();
            assert_eq!(
                json_of(&BoltType::Map(folded(&[&row.action]))),
                serde_props(&row.action),
                "{name}"
            );
            assert_eq!(
                json_of(&BoltType::Map(folded(&[&row.user]))),
                serde_props(&row.user),
                "{name}"
            );
            assert_eq!(
                json_of(&BoltType::Map(folded(&[&row.tenant]))),
                serde_props(&row.tenant),
                "{name}"
            );
            if let Some(r) = &row.resource {
                assert_eq!(
                    json_of(&BoltType::Map(folded(&[r]))),
                    serde_props(r),
                    "{name}"
                );
            }
            checked += 1;
        }
        assert!(checked >= 10, "checked {checked} fixtures");
    }

    #[test]
    fn duplicates_fold_later_values_win_absent_never_erase() {
        let ctx = TraceContext::new("p", "eu-de").with_domain("d1", None);
        let mut rs = rows(
            vec![
                json!({"trace_id": "t", "time": 1, "trace_name": "first", "request_id": "r1"}),
                json!({"trace_id": "t", "time": 1, "trace_name": "second"}),
            ],
            &ctx,
        );
        rs.extend(rows(
            vec![json!({"trace_id": "u", "time": 1})],
            &TraceContext::new("p", "eu-de"),
        ));
        let batch = Batch::build(&rs);
        let params: BTreeMap<&str, Value> = write_params(&batch)
            .iter()
            .map(|(k, v)| (*k, json_of(v)))
            .collect();
        let action = &params["actions"][0]["props"];
        assert_eq!(action["name"], json!("second"));
        assert_eq!(action["requestId"], json!("r1"));
        assert_eq!(
            params["tenants"][0]["props"]["domainId"],
            json!("d1"),
            "a later row without domain keeps it"
        );
    }

    #[test]
    fn every_parameter_is_sent_and_optional_links_are_empty_lists() {
        let ctx = TraceContext::new("p", "eu-de");
        let rs = rows(
            vec![
                json!({"trace_id": "b", "time": 1, "source_ip": "10.0.0.9"}),
                json!({"trace_id": "a", "time": 1}),
            ],
            &ctx,
        );
        let batch = Batch::build(&rs);
        let params: BTreeMap<&str, Value> = write_params(&batch)
            .iter()
            .map(|(k, v)| (*k, json_of(v)))
            .collect();
        assert_eq!(params.len(), PARAMS.len());
        assert_eq!(
            params["resources"],
            json!([]),
            "no resources, an empty list"
        );
        let acts = params["actions"].as_array().expect("actions");
        assert_eq!(acts.len(), 2);
        assert_eq!(acts[0]["key"], json!("a"), "sorted by trace id");
        assert_eq!(acts[0]["fromIp"], json!([]));
        assert_eq!(acts[0]["performedBy"].as_array().expect("list").len(), 1);
        assert_eq!(acts[1]["fromIp"], json!(["10.0.0.9"]));
        assert_eq!(params["domains"], json!([]));
    }
}
