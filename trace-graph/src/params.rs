//! Converts a [`Batch`] into the Bolt parameters of [`crate::cypher::WRITE`].
//! This is the only place where row values become driver types.
//!
//! Node properties are built straight from the model structs, with the same
//! camelCase names their serde form uses (a test checks that both agree for
//! every fixture), so what the snapshot tests show is what is stored. Absent
//! values are left out (never sent as null). A node given several times in
//! a batch is folded in row order: a later present value wins, an absent one
//! never erases, which is what `SET n += props` does across transactions.
//!
//! This is also where the long-value rule of [`crate::indexed`] is applied:
//! every key and every indexed property is sent in its index form, with the
//! full value in `<property>Full` when the form is shortened. For short
//! values (every real trace) the parameters are exactly the model's values.

use crate::batch::{ActionEntry, Batch};
use crate::cypher::PARAMS;
use crate::indexed::index_form;
use crate::model::{ActionNode, Channel, ResourceNode, TenantNode, UserKind, UserNode};
use neo4rs::{BoltList, BoltMap, BoltNull, BoltString, BoltType};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

fn string(s: &str) -> BoltType {
    BoltType::String(BoltString::from(s))
}

fn list(items: Vec<BoltType>) -> BoltType {
    BoltType::List(BoltList::from(items))
}

/// The index form of a key or indexed value (the value itself when short).
fn key(s: &str) -> BoltType {
    string(&index_form(s))
}

/// Writes node properties into a Bolt map.
trait Props {
    fn put_props(&self, m: &mut Putter);
    /// The keys of other nodes that the statement MERGEs from this node's
    /// properties (a tenant's `Region`), sent beside `props` only when the
    /// property value is too long to be the key itself.
    fn put_refs(&self, _row: &mut Putter) {}
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
    /// An indexed property: the index form under `key` and, when that is
    /// shortened, the full value under `full_key`. A short value removes a
    /// `full_key` folded in from an earlier version of the node.
    fn indexed(&mut self, key: &str, full_key: &str, value: &str) {
        match index_form(value) {
            Cow::Borrowed(v) => {
                self.str(key, v);
                self.0.value.remove(full_key);
            }
            Cow::Owned(form) => {
                self.str(key, &form);
                self.str(full_key, value);
            }
        }
    }
    fn indexed_opt(&mut self, key: &str, full_key: &str, value: &Option<String>) {
        if let Some(v) = value {
            self.indexed(key, full_key, v);
        }
    }
    /// A reference to another node's key: its index form under `key` when the
    /// value is shortened, nothing (and no earlier version's form) when not.
    fn reference(&mut self, key: &str, value: Option<&str>) {
        match value.map(index_form) {
            Some(Cow::Owned(form)) => self.str(key, &form),
            Some(Cow::Borrowed(_)) => {
                self.0.value.remove(key);
            }
            None => {}
        }
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
        m.indexed("traceId", "traceIdFull", &self.trace_id);
        m.indexed_opt("name", "nameFull", &self.name);
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
        m.indexed_opt("requestId", "requestIdFull", &self.request_id);
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
        m.indexed("key", "keyFull", &self.key);
        m.indexed_opt("name", "nameFull", &self.name);
        m.indexed_opt("id", "idFull", &self.id);
        m.opt("domainId", &self.domain_id);
        m.opt("domainName", &self.domain_name);
        let kind = match self.kind {
            UserKind::User => "user",
            UserKind::System => "system",
        };
        m.str("kind", kind);
    }
    fn put_refs(&self, row: &mut Putter) {
        row.reference("domain", self.domain_id.as_deref());
    }
}

impl Props for ResourceNode {
    fn put_props(&self, m: &mut Putter) {
        m.indexed("key", "keyFull", &self.key);
        m.str("projectId", &self.project_id);
        m.opt("service", &self.service);
        m.opt("type", &self.resource_type);
        m.indexed_opt("id", "idFull", &self.id);
        m.indexed_opt("name", "nameFull", &self.name);
    }
    fn put_refs(&self, row: &mut Putter) {
        row.reference("tenant", Some(&self.project_id));
    }
}

impl Props for TenantNode {
    fn put_props(&self, m: &mut Putter) {
        m.indexed("projectId", "projectIdFull", &self.project_id);
        m.str("region", &self.region);
        m.opt("domainId", &self.domain_id);
        m.opt("domainName", &self.domain_name);
        m.opt("name", &self.name);
    }
    fn put_refs(&self, row: &mut Putter) {
        row.reference("region", Some(&self.region));
        row.reference("domain", self.domain_id.as_deref());
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

/// `{key}` rows of nodes that have only a key, `{key, full}` when the key
/// is shortened, sorted by (full) key.
fn names(set: &BTreeSet<&str>) -> BoltType {
    list(
        set.iter()
            .map(|s| {
                let mut row = Putter(BoltMap::with_capacity(2));
                row.indexed("key", "full", s);
                BoltType::Map(row.0)
            })
            .collect(),
    )
}

/// Keys of relationship targets, in index form.
fn keys(items: &[&str]) -> BoltType {
    list(items.iter().map(|s| key(s)).collect())
}

/// `{key, props}` rows (plus long references, see [`Props::put_refs`]), sorted by key.
fn keyed<T: Props>(nodes: &BTreeMap<&str, Vec<&T>>) -> BoltType {
    list(
        nodes
            .iter()
            .map(|(k, versions)| {
                let mut row = Putter(BoltMap::with_capacity(2));
                for v in versions {
                    v.put_refs(&mut row);
                }
                row.0.put(BoltString::from("key"), key(k));
                row.0
                    .put(BoltString::from("props"), BoltType::Map(folded(versions)));
                BoltType::Map(row.0)
            })
            .collect(),
    )
}

/// `{key, props, performedBy, …}` rows, sorted by trace id.
fn actions(entries: &BTreeMap<&str, ActionEntry<'_>>) -> BoltType {
    list(
        entries
            .iter()
            .map(|(k, e)| {
                let l = &e.links;
                let mut row = BoltMap::with_capacity(8);
                row.put(BoltString::from("key"), key(k));
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
                    row.put(BoltString::from(name), keys(targets));
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
                let mut row = Putter(BoltMap::with_capacity(2));
                row.indexed("id", "idFull", id);
                let name = name.map(string).unwrap_or(BoltType::Null(BoltNull));
                row.0.put(BoltString::from("name"), name);
                BoltType::Map(row.0)
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
    fn long_values_are_sent_in_index_form_with_the_whole_value_beside() {
        let long = |c: char| c.to_string().repeat(5000);
        let ctx = TraceContext::new(long('p'), long('r')).with_domain(long('d'), None);
        let rs = rows(
            vec![
                json!({"trace_id": long('t'), "time": 1, "source_ip": long('i'),
                       "resource_id": "x", "resource_name": long('n'), "trace_name": long('o')}),
                json!({"trace_id": "short", "time": 2, "resource_id": "x", "resource_name": "web-1"}),
            ],
            &ctx,
        );
        let batch = Batch::build(&rs);
        let params: BTreeMap<&str, Value> = write_params(&batch)
            .iter()
            .map(|(k, v)| (*k, json_of(v)))
            .collect();
        let form = |s: &str| json!(crate::indexed::index_form(s));
        assert_eq!(
            params["ips"],
            json!([{"key": form(&long('i')), "full": long('i')}])
        );
        assert_eq!(
            params["regions"],
            json!([{"key": form(&long('r')), "full": long('r')}])
        );
        assert_eq!(
            params["statuses"],
            json!([{"key": "unknown"}]),
            "short: key only"
        );
        let domain = &params["domains"][0];
        assert_eq!(
            (&domain["id"], &domain["idFull"]),
            (&form(&long('d')), &json!(long('d')))
        );
        let tenant = &params["tenants"][0];
        assert_eq!(tenant["key"], form(&long('p')));
        assert_eq!(tenant["props"]["projectId"], form(&long('p')));
        assert_eq!(tenant["props"]["projectIdFull"], json!(long('p')));
        assert_eq!(
            tenant["props"]["region"],
            json!(long('r')),
            "not indexed: whole"
        );
        assert_eq!(tenant["region"], form(&long('r')));
        assert_eq!(tenant["domain"], form(&long('d')));
        // The resource was named long, then short in the same batch: the short
        // name wins and no stale nameFull is sent.
        let resource = &params["resources"][0];
        assert_eq!(resource["props"]["name"], json!("web-1"));
        assert_eq!(resource["props"].get("nameFull"), None);
        assert_eq!(resource["tenant"], form(&long('p')));
        let actions = params["actions"].as_array().expect("actions");
        let first = actions
            .iter()
            .find(|a| a["key"] == form(&long('t')))
            .expect("long action");
        assert_eq!(first["props"]["traceIdFull"], json!(long('t')));
        assert_eq!(first["props"]["nameFull"], json!(long('o')));
        assert_eq!(
            first["props"]["resourceName"],
            json!(long('n')),
            "copies are whole"
        );
        assert_eq!(first["fromIp"], json!([form(&long('i'))]));
        let short = actions
            .iter()
            .find(|a| a["key"] == json!("short"))
            .expect("short");
        assert_eq!(short["props"].get("traceIdFull"), None);
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
