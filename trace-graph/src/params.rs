//! Converts a [`Batch`] into the Bolt parameter lists of the write
//! statements. This is the only place where row values become driver types.
//!
//! Node properties are the serde (camelCase) form of the model structs, so
//! what the snapshot tests show is exactly what is stored. Absent values are
//! left out of the maps (never sent as null).

use crate::batch::{ActionEntry, Batch, Props};
use crate::cypher::PARAMS;
use neo4rs::{BoltList, BoltMap, BoltNull, BoltString, BoltType};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A JSON value as a Bolt value. Objects drop their null members.
pub(crate) fn bolt(value: &Value) -> BoltType {
    match value {
        Value::Null => BoltType::Null(BoltNull),
        Value::Bool(b) => BoltType::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => BoltType::from(i),
            None => BoltType::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => string(s),
        Value::Array(items) => list(items.iter().map(bolt).collect()),
        Value::Object(map) => props(map),
    }
}

fn props(map: &Props) -> BoltType {
    let mut out = BoltMap::with_capacity(map.len());
    for (k, v) in map.iter().filter(|(_, v)| !v.is_null()) {
        out.put(BoltString::from(k.as_str()), bolt(v));
    }
    BoltType::Map(out)
}

fn string(s: &str) -> BoltType {
    BoltType::String(BoltString::from(s))
}

fn map(entries: [(&str, BoltType); 2]) -> BoltType {
    let mut out = BoltMap::with_capacity(2);
    for (k, v) in entries {
        out.put(BoltString::from(k), v);
    }
    BoltType::Map(out)
}

fn list(items: Vec<BoltType>) -> BoltType {
    BoltType::List(BoltList::from(items))
}

fn names(set: &BTreeSet<String>) -> BoltType {
    list(set.iter().map(|s| string(s)).collect())
}

/// `{key, props}` rows, sorted by key.
fn keyed(nodes: &BTreeMap<String, Props>) -> BoltType {
    list(
        nodes
            .iter()
            .map(|(k, p)| map([("key", string(k)), ("props", props(p))]))
            .collect(),
    )
}

/// `{key, props, performedBy, …}` rows, sorted by trace id.
fn actions(entries: &BTreeMap<String, ActionEntry>) -> BoltType {
    list(
        entries
            .iter()
            .map(|(key, e)| {
                let l = &e.links;
                let mut out = BoltMap::with_capacity(8);
                let fields = [
                    ("performedBy", &l.performed_by),
                    ("assumedBy", &l.assumed_by),
                    ("status", &l.status),
                    ("service", &l.service),
                    ("appliedOn", &l.applied_on),
                    ("fromIp", &l.from_ip),
                ];
                out.put(BoltString::from("key"), string(key));
                out.put(BoltString::from("props"), props(&e.props));
                for (name, set) in fields {
                    out.put(BoltString::from(name), names(set));
                }
                BoltType::Map(out)
            })
            .collect(),
    )
}

/// Every parameter of [`crate::cypher::WRITE`] for one batch (empty lists included).
pub(crate) fn write_params(batch: &Batch) -> Vec<(&'static str, BoltType)> {
    let domains = list(
        batch
            .domains
            .iter()
            .map(|(id, name)| {
                let name = name
                    .as_deref()
                    .map(string)
                    .unwrap_or(BoltType::Null(BoltNull));
                map([("id", string(id)), ("name", name)])
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
    use serde_json::json;

    #[test]
    fn json_becomes_bolt_without_nulls() {
        let b = bolt(&json!({"a": 1, "b": null, "c": "x", "d": true, "e": [1, 2]}));
        let BoltType::Map(m) = b else {
            panic!("map expected")
        };
        assert_eq!(m.len(), 4);
        assert_eq!(m.get::<i64>("a").expect("a"), 1);
        assert_eq!(m.get::<String>("c").expect("c"), "x");
        assert!(m.get::<bool>("d").expect("d"));
    }

    #[test]
    fn every_parameter_is_sent_and_optional_links_are_empty_lists() {
        let ctx = TraceContext::new("p", "eu-de");
        let rows: Vec<_> = [
            json!({"trace_id": "b", "time": 1, "source_ip": "10.0.0.9"}),
            json!({"trace_id": "a", "time": 1}),
        ]
        .into_iter()
        .map(|v| {
            map_trace(&serde_json::from_value::<Trace>(v).expect("trace"), &ctx).expect("maps")
        })
        .collect();
        let batch = Batch::build(&rows);
        let params: BTreeMap<&str, BoltType> = write_params(&batch).into_iter().collect();
        assert_eq!(params.len(), PARAMS.len());
        let BoltType::List(resources) = &params["resources"] else {
            panic!("list")
        };
        assert!(resources.is_empty(), "no resources, an empty list");
        let BoltType::List(acts) = &params["actions"] else {
            panic!("actions")
        };
        assert_eq!(acts.len(), 2);
        let BoltType::Map(first) = &acts.value[0] else {
            panic!("map")
        };
        assert_eq!(
            first.get::<String>("key").expect("key"),
            "a",
            "sorted by trace id"
        );
        assert!(first
            .get::<Vec<String>>("fromIp")
            .expect("fromIp")
            .is_empty());
        assert_eq!(
            first
                .get::<Vec<String>>("performedBy")
                .expect("performer")
                .len(),
            1
        );
        let BoltType::Map(second) = &acts.value[1] else {
            panic!("map")
        };
        assert_eq!(
            second.get::<Vec<String>>("fromIp").expect("fromIp"),
            ["10.0.0.9"]
        );
    }
}
