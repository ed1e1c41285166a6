//! Turns a batch of rows into per-label lists: shared nodes deduplicated,
//! every list sorted by its key.
//!
//! Deduplicating in Rust keeps each `UNWIND` short (a batch of 1000 traces
//! usually touches a handful of users, one status, a few services). Sorting
//! by key makes every writer lock nodes in the same order, which keeps
//! deadlocks between concurrent writers rare (the rest are retried).
//!
//! When one key appears in several rows, their properties are folded in row
//! order: a later present value wins, an absent value never erases. That is
//! exactly what `SET n += props` does across transactions, so the graph is
//! the same whatever the batch boundaries. Relationships are a set union.

use crate::model::GraphRow;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Node properties as the writer sends them.
pub(crate) type Props = Map<String, Value>;

/// The relationship targets of one action, by relationship type; each set
/// sorted, so a row lists its targets in key order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Links {
    pub performed_by: BTreeSet<String>,
    pub assumed_by: BTreeSet<String>,
    pub status: BTreeSet<String>,
    pub service: BTreeSet<String>,
    pub applied_on: BTreeSet<String>,
    pub from_ip: BTreeSet<String>,
}

/// An action row: its properties and its relationship targets.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ActionEntry {
    pub props: Props,
    pub links: Links,
}

/// All lists of one transaction, each sorted by key and free of duplicates.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub regions: BTreeSet<String>,
    pub domains: BTreeMap<String, Option<String>>,
    pub services: BTreeSet<String>,
    pub statuses: BTreeSet<String>,
    pub ips: BTreeSet<String>,
    pub tenants: BTreeMap<String, Props>,
    pub users: BTreeMap<String, Props>,
    pub resources: BTreeMap<String, Props>,
    pub actions: BTreeMap<String, ActionEntry>,
}

/// The serde form of a model node (always a JSON object), nulls removed.
fn props_of<T: Serialize>(node: &T) -> Props {
    match serde_json::to_value(node) {
        Ok(Value::Object(m)) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => Props::new(),
    }
}

/// Folds `props` into the entry for `key`: later values win, absent ones never erase.
fn fold(map: &mut BTreeMap<String, Props>, key: &str, props: Props) {
    match map.get_mut(key) {
        Some(existing) => existing.extend(props),
        None => {
            map.insert(key.to_owned(), props);
        }
    }
}

impl Batch {
    /// Groups the rows (see the module documentation for duplicates).
    pub fn build<'a>(rows: impl IntoIterator<Item = &'a GraphRow>) -> Batch {
        let mut b = Batch::default();
        for row in rows {
            let entry = b.actions.entry(row.action.trace_id.clone()).or_default();
            entry.props.extend(props_of(&row.action));
            let links = &mut entry.links;
            links.performed_by.insert(row.user.key.clone());
            links.status.insert(row.status.clone());
            links
                .assumed_by
                .extend(row.assumed_by.as_ref().map(|a| a.key.clone()));
            links.service.extend(row.service.clone());
            links
                .applied_on
                .extend(row.resource.as_ref().map(|r| r.key.clone()));
            links.from_ip.extend(row.source_ip.clone());

            b.regions.insert(row.tenant.region.clone());
            let users = std::iter::once(&row.user).chain(row.assumed_by.as_ref());
            let domains = users
                .clone()
                .map(|u| (&u.domain_id, &u.domain_name))
                .chain([(&row.tenant.domain_id, &row.tenant.domain_name)]);
            for (id, name) in domains {
                if let Some(id) = id {
                    let slot = b.domains.entry(id.clone()).or_insert(None);
                    if name.is_some() {
                        slot.clone_from(name);
                    }
                }
            }
            fold(
                &mut b.tenants,
                &row.tenant.project_id,
                props_of(&row.tenant),
            );
            for u in users {
                fold(&mut b.users, &u.key, props_of(u));
            }
            if let Some(r) = &row.resource {
                fold(&mut b.resources, &r.key, props_of(r));
            }
            b.statuses.insert(row.status.clone());
            b.services.extend(row.service.clone());
            b.ips.extend(row.source_ip.clone());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::map_trace;
    use crate::model::TraceContext;
    use cts_client::Trace;
    use serde_json::json;

    fn row_in(v: Value, ctx: &TraceContext) -> GraphRow {
        let t: Trace = serde_json::from_value(v).expect("trace");
        map_trace(&t, ctx).expect("maps")
    }

    fn row(v: Value) -> GraphRow {
        row_in(
            v,
            &TraceContext::new("p1", "eu-de").with_domain("d1", Some("dom".into())),
        )
    }

    fn keys<V>(m: &BTreeMap<String, V>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    #[test]
    fn shared_nodes_are_deduplicated_and_sorted() {
        let rows = vec![
            row(
                json!({"trace_id": "t2", "time": 2, "user": {"name": "bob"}, "service_type": "VPC",
                       "resource_id": "r1", "resource_type": "eip", "trace_rating": "normal", "source_ip": "10.0.0.2"}),
            ),
            row(
                json!({"trace_id": "t1", "time": 1, "user": {"name": "alice"}, "service_type": "ECS",
                       "resource_id": "r1", "resource_type": "eip", "trace_rating": "warning", "source_ip": "10.0.0.1"}),
            ),
            row(
                json!({"trace_id": "t3", "time": 3, "user": {"name": "alice"}, "service_type": "VPC",
                       "resource_id": "r1", "resource_type": "eip", "trace_rating": "normal", "source_ip": "10.0.0.1"}),
            ),
        ];
        let b = Batch::build(&rows);
        assert_eq!(b.regions.iter().collect::<Vec<_>>(), ["eu-de"]);
        assert_eq!(b.domains.get("d1"), Some(&Some("dom".to_owned())));
        assert_eq!(b.services.iter().collect::<Vec<_>>(), ["ECS", "VPC"]);
        assert_eq!(b.statuses.iter().collect::<Vec<_>>(), ["normal", "warning"]);
        assert_eq!(b.ips.iter().collect::<Vec<_>>(), ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(keys(&b.tenants), ["p1"]);
        assert_eq!(keys(&b.users), ["d1/name:alice", "d1/name:bob"]);
        // ECS/eip/r1 and VPC/eip/r1 are different resources.
        assert_eq!(keys(&b.resources), ["p1/ECS/eip/id:r1", "p1/VPC/eip/id:r1"]);
        assert_eq!(keys(&b.actions), ["t1", "t2", "t3"]);
        let t1 = &b.actions["t1"].links;
        assert_eq!(
            t1.performed_by.iter().collect::<Vec<_>>(),
            ["d1/name:alice"]
        );
        assert_eq!(
            t1.applied_on.iter().collect::<Vec<_>>(),
            ["p1/ECS/eip/id:r1"]
        );
        assert_eq!(t1.status.iter().collect::<Vec<_>>(), ["warning"]);
        assert_eq!(t1.from_ip.iter().collect::<Vec<_>>(), ["10.0.0.1"]);
    }

    #[test]
    fn duplicates_fold_later_values_win_absent_never_erase() {
        let rows = vec![
            row(json!({"trace_id": "t", "time": 1, "trace_name": "first", "request_id": "r1"})),
            row(json!({"trace_id": "t", "time": 1, "trace_name": "second"})),
        ];
        let b = Batch::build(&rows);
        assert_eq!(b.actions.len(), 1);
        assert_eq!(b.actions["t"].props["name"], json!("second"));
        assert_eq!(b.actions["t"].props["requestId"], json!("r1"));
    }

    #[test]
    fn duplicates_union_their_relationships() {
        let rows = vec![
            row(
                json!({"trace_id": "t", "time": 1, "user": {"name": "a"}, "source_ip": "10.0.0.1"}),
            ),
            row(json!({"trace_id": "t", "time": 1, "user": {"name": "b"}})),
        ];
        let b = Batch::build(&rows);
        let links = &b.actions["t"].links;
        assert_eq!(links.performed_by.len(), 2);
        assert_eq!(links.from_ip.len(), 1);
    }

    #[test]
    fn a_tenant_keeps_its_domain_when_a_later_row_lacks_it() {
        let with = TraceContext::new("p", "eu-de").with_domain("d1", None);
        let without = TraceContext::new("p", "eu-de");
        let rows = vec![
            row_in(json!({"trace_id": "a", "time": 1}), &with),
            row_in(json!({"trace_id": "b", "time": 1}), &without),
        ];
        let b = Batch::build(&rows);
        assert_eq!(b.tenants["p"]["domainId"], json!("d1"));
    }

    #[test]
    fn a_known_domain_name_is_kept() {
        let t: Trace = serde_json::from_value(json!({"trace_id": "a", "time": 1,
            "user": {"name": "u", "domain": {"id": "d1", "name": "named"}}}))
        .expect("trace");
        let named =
            map_trace(&t, &TraceContext::new("p", "r").with_domain("d1", None)).expect("maps");
        let b = Batch::build([&named]);
        assert_eq!(b.domains.get("d1"), Some(&Some("named".to_owned())));
    }
}
