//! Converts a [`Batch`] into the Bolt parameter lists of the write
//! statements. This is the only place where row values become driver types.
//!
//! Node properties are the serde (camelCase) form of the model structs, so
//! what the snapshot tests show is exactly what is stored. Absent values are
//! left out of the maps (never sent as null).

use crate::batch::{Batch, Links, Props};
use crate::cypher::Step;
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

/// `{a: traceId, b: target}` rows, sorted by target, then action.
fn links(set: &Links) -> BoltType {
    list(
        set.iter()
            .map(|(target, trace)| map([("a", string(trace)), ("b", string(target))]))
            .collect(),
    )
}

/// The parameter list for one step, or `None` when the list is empty.
pub(crate) fn step_rows(batch: &Batch, step: Step) -> Option<BoltType> {
    let rows = match step {
        Step::Regions => names(&batch.regions),
        Step::Services => names(&batch.services),
        Step::Statuses => names(&batch.statuses),
        Step::Ips => names(&batch.ips),
        Step::Domains => list(
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
        ),
        Step::Tenants => keyed(&batch.tenants),
        Step::Users => keyed(&batch.users),
        Step::Resources => keyed(&batch.resources),
        Step::Actions => keyed(&batch.actions),
        Step::PerformedBy => links(&batch.performed_by),
        Step::AssumedBy => links(&batch.assumed_by),
        Step::WithStatus => links(&batch.with_status),
        Step::OnService => links(&batch.on_service),
        Step::AppliedOn => links(&batch.applied_on),
        Step::FromIp => links(&batch.from_ip),
    };
    match &rows {
        BoltType::List(l) if l.is_empty() => None,
        _ => Some(rows),
    }
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
    fn optional_relationships_skip_rows_without_target() {
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
        let Some(BoltType::List(ips)) = step_rows(&batch, Step::FromIp) else {
            panic!("ips")
        };
        assert_eq!(ips.len(), 1);
        assert!(step_rows(&batch, Step::AppliedOn).is_none());
        let Some(BoltType::List(users)) = step_rows(&batch, Step::PerformedBy) else {
            panic!("users")
        };
        assert_eq!(users.len(), 2, "every action has a performer");
    }
}
