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

use crate::model::{ActionNode, GraphRow, ResourceNode, TenantNode, UserNode};
use std::collections::{BTreeMap, BTreeSet};

/// The relationship targets of one action, by relationship type, each
/// sorted and without duplicates once the batch is built.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Links<'a> {
    pub performed_by: Vec<&'a str>,
    pub assumed_by: Vec<&'a str>,
    pub status: Vec<&'a str>,
    pub service: Vec<&'a str>,
    pub applied_on: Vec<&'a str>,
    pub from_ip: Vec<&'a str>,
}

impl Links<'_> {
    fn normalise(&mut self) {
        for list in [
            &mut self.performed_by,
            &mut self.assumed_by,
            &mut self.status,
            &mut self.service,
            &mut self.applied_on,
            &mut self.from_ip,
        ] {
            list.sort_unstable();
            list.dedup();
        }
    }
}

/// An action row: every version of the action given in the batch (in row
/// order, usually one) and its relationship targets.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ActionEntry<'a> {
    pub versions: Vec<&'a ActionNode>,
    pub links: Links<'a>,
}

/// All lists of one transaction, each sorted by key and free of duplicates.
/// A node given by several rows keeps all its versions, in row order, to be
/// folded when its properties are sent.
#[derive(Debug, Default)]
pub(crate) struct Batch<'a> {
    pub regions: BTreeSet<&'a str>,
    pub domains: BTreeMap<&'a str, Option<&'a str>>,
    pub services: BTreeSet<&'a str>,
    pub statuses: BTreeSet<&'a str>,
    pub ips: BTreeSet<&'a str>,
    pub tenants: BTreeMap<&'a str, Vec<&'a TenantNode>>,
    pub users: BTreeMap<&'a str, Vec<&'a UserNode>>,
    pub resources: BTreeMap<&'a str, Vec<&'a ResourceNode>>,
    pub actions: BTreeMap<&'a str, ActionEntry<'a>>,
}

impl<'a> Batch<'a> {
    /// Groups the rows (see the module documentation for duplicates).
    pub fn build(rows: impl IntoIterator<Item = &'a GraphRow>) -> Batch<'a> {
        let mut b = Batch::default();
        for row in rows {
            let entry = b.actions.entry(&row.action.trace_id).or_default();
            entry.versions.push(&row.action);
            let links = &mut entry.links;
            links.performed_by.push(&row.user.key);
            links.status.push(&row.status);
            links
                .assumed_by
                .extend(row.assumed_by.as_ref().map(|a| a.key.as_str()));
            links.service.extend(row.service.as_deref());
            links
                .applied_on
                .extend(row.resource.as_ref().map(|r| r.key.as_str()));
            links.from_ip.extend(row.source_ip.as_deref());

            b.regions.insert(&row.tenant.region);
            let users = std::iter::once(&row.user).chain(row.assumed_by.as_ref());
            let domains = users
                .clone()
                .map(|u| (&u.domain_id, &u.domain_name))
                .chain([(&row.tenant.domain_id, &row.tenant.domain_name)]);
            for (id, name) in domains {
                if let Some(id) = id {
                    let slot = b.domains.entry(id.as_str()).or_insert(None);
                    if let Some(name) = name {
                        *slot = Some(name.as_str());
                    }
                }
            }
            b.tenants
                .entry(&row.tenant.project_id)
                .or_default()
                .push(&row.tenant);
            for u in users {
                b.users.entry(&u.key).or_default().push(u);
            }
            if let Some(r) = &row.resource {
                b.resources.entry(&r.key).or_default().push(r);
            }
            b.statuses.insert(&row.status);
            b.services.extend(row.service.as_deref());
            b.ips.extend(row.source_ip.as_deref());
        }
        for entry in b.actions.values_mut() {
            entry.links.normalise();
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
    use serde_json::{json, Value};

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

    fn keys<V>(m: &BTreeMap<&str, V>) -> Vec<String> {
        m.keys().map(|k| k.to_string()).collect()
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
        assert_eq!(b.regions.iter().copied().collect::<Vec<_>>(), ["eu-de"]);
        assert_eq!(b.domains.get("d1"), Some(&Some("dom")));
        assert_eq!(
            b.services.iter().copied().collect::<Vec<_>>(),
            ["ECS", "VPC"]
        );
        assert_eq!(
            b.statuses.iter().copied().collect::<Vec<_>>(),
            ["normal", "warning"]
        );
        assert_eq!(
            b.ips.iter().copied().collect::<Vec<_>>(),
            ["10.0.0.1", "10.0.0.2"]
        );
        assert_eq!(keys(&b.tenants), ["p1"]);
        assert_eq!(keys(&b.users), ["d1/name:alice", "d1/name:bob"]);
        // ECS/eip/r1 and VPC/eip/r1 are different resources.
        assert_eq!(keys(&b.resources), ["p1/ECS/eip/id:r1", "p1/VPC/eip/id:r1"]);
        assert_eq!(keys(&b.actions), ["t1", "t2", "t3"]);
        let t1 = &b.actions["t1"].links;
        assert_eq!(t1.performed_by.to_vec(), ["d1/name:alice"]);
        assert_eq!(t1.applied_on.to_vec(), ["p1/ECS/eip/id:r1"]);
        assert_eq!(t1.status.to_vec(), ["warning"]);
        assert_eq!(t1.from_ip.to_vec(), ["10.0.0.1"]);
    }

    #[test]
    fn duplicates_keep_every_version_in_row_order() {
        let rows = vec![
            row(json!({"trace_id": "t", "time": 1, "trace_name": "first", "request_id": "r1"})),
            row(json!({"trace_id": "t", "time": 1, "trace_name": "second"})),
        ];
        let b = Batch::build(&rows);
        assert_eq!(b.actions.len(), 1);
        let names: Vec<_> = b.actions["t"]
            .versions
            .iter()
            .map(|a| a.name.as_deref())
            .collect();
        assert_eq!(
            names,
            [Some("first"), Some("second")],
            "versions in row order"
        );
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
    fn a_tenant_given_twice_keeps_both_versions() {
        let with = TraceContext::new("p", "eu-de").with_domain("d1", None);
        let without = TraceContext::new("p", "eu-de");
        let rows = vec![
            row_in(json!({"trace_id": "a", "time": 1}), &with),
            row_in(json!({"trace_id": "b", "time": 1}), &without),
        ];
        let b = Batch::build(&rows);
        let domains: Vec<_> = b.tenants["p"]
            .iter()
            .map(|t| t.domain_id.as_deref())
            .collect();
        assert_eq!(domains, [Some("d1"), None]);
    }

    #[test]
    fn a_known_domain_name_is_kept() {
        let t: Trace = serde_json::from_value(json!({"trace_id": "a", "time": 1,
            "user": {"name": "u", "domain": {"id": "d1", "name": "named"}}}))
        .expect("trace");
        let named =
            map_trace(&t, &TraceContext::new("p", "r").with_domain("d1", None)).expect("maps");
        let b = Batch::build([&named]);
        assert_eq!(b.domains.get("d1"), Some(&Some("named")));
    }
}
