//! Every Cypher statement the writer sends, as text fixed at compile time.
//!
//! **Invariant:** no value from a trace is ever part of a statement's text.
//! Traces reach Neo4j only as parameters (`$rows`); labels, relationship
//! types and property names come from the constants below.
//!
//! A batch is one transaction running one statement, [`WRITE`]: a unit
//! subquery per shared-node label (regions, domains, services, statuses, IPs,
//! tenants, users, resources), then one row per trace that writes the
//! `Action` and all its relationships. Every list is sorted by key, so
//! concurrent writers take their locks in one global order. Shared nodes are
//! touched only when a value differs (an unchanged user costs one index seek
//! and no lock). Relationships of a newly created action are `CREATE`d,
//! since none can exist yet, and `MERGE`d when an existing action is written
//! again with new values.
//!
//! Long values (`crate::indexed`): keys arrive in index form; a node that has
//! only a key gets the full value in `<key>Full`; rows whose properties name
//! another node's key (a tenant's region, a user's domain, a resource's
//! project) carry that key's index form beside `props` when it is shortened;
//! and setting an indexed property to a short value removes a `<name>Full`
//! left from an earlier long value.
//!
//! Why one statement: one row per trace lets the server find each action once
//! for all its relationships, and one request per batch is one round trip.
//! With the stock Bolt driver, which does not disable Nagle's algorithm, every
//! request above its 8 KiB write buffer also waited for the server's delayed
//! ACK (about 40 ms); the workspace now patches the driver (see
//! <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/performance.md>).

/// Keeps only the rows whose node is new or has a differing value, then sets
/// the values. What follows (structural relationships) runs only for those.
macro_rules! when_changed_set {
    ($var:literal) => {
        concat!(
            "WITH ",
            $var,
            ", row WHERE any(k IN keys(row.props) WHERE ",
            $var,
            "[k] IS NULL OR ",
            $var,
            "[k] <> row.props[k]) ",
            "SET ",
            $var,
            " += row.props "
        )
    };
}

/// Sets `<prop>Full` of `$var` to the row's value when the row sets `<prop>`
/// (null, i.e. removed, when the new value is short). Continues a `SET`.
macro_rules! full_follows {
    ($var:literal, $prop:literal) => {
        concat!(
            ", ",
            $var,
            ".",
            $prop,
            "Full = CASE WHEN row.props.",
            $prop,
            " IS NULL THEN ",
            $var,
            ".",
            $prop,
            "Full ELSE row.props.",
            $prop,
            "Full END "
        )
    };
}

/// Nodes that have only a key; rows are `{key}`, or `{key, full}` when the
/// key is the index form of a longer value, which goes to `<prop>Full`.
macro_rules! key_only {
    ($param:literal, $label:literal, $prop:literal) => {
        concat!(
            "UNWIND $",
            $param,
            " AS row MERGE (n:",
            $label,
            " {",
            $prop,
            ": row.key}) ",
            "WITH n, row WHERE row.full IS NOT NULL AND (n.",
            $prop,
            "Full IS NULL OR n.",
            $prop,
            "Full <> row.full) SET n.",
            $prop,
            "Full = row.full"
        )
    };
}

/// `Region` nodes.
macro_rules! regions {
    () => {
        key_only!("regions", "Region", "name")
    };
}

/// `Domain` nodes; rows are `{id, name}` (and `idFull` for a long id).
macro_rules! domains {
    () => {
        concat!(
            "UNWIND $domains AS row MERGE (d:Domain {id: row.id}) ",
            "WITH d, row WHERE (row.name IS NOT NULL AND (d.name IS NULL OR d.name <> row.name)) ",
            "OR (row.idFull IS NOT NULL AND (d.idFull IS NULL OR d.idFull <> row.idFull)) ",
            "SET d.name = coalesce(row.name, d.name), d.idFull = coalesce(row.idFull, d.idFull)"
        )
    };
}

/// `Service`, `Status` and `IpAddress` nodes.
macro_rules! names {
    () => {
        concat!(
            "CALL { ",
            key_only!("services", "Service", "name"),
            " } ",
            "CALL { ",
            key_only!("statuses", "Status", "name"),
            " } ",
            "CALL { ",
            key_only!("ips", "IpAddress", "address"),
            " } "
        )
    };
}

/// `Tenant` nodes, `LOCATED_AT` their region and `BELONGS_TO` their domain.
macro_rules! tenants {
    () => {
        concat!(
            "UNWIND $tenants AS row ",
            "MERGE (t:Tenant {projectId: row.key}) ",
            when_changed_set!("t"),
            "MERGE (r:Region {name: coalesce(row.region, row.props.region)}) ",
            "MERGE (t)-[:LOCATED_AT]->(r) ",
            "FOREACH (id IN CASE WHEN row.props.domainId IS NULL THEN [] ",
            "ELSE [coalesce(row.domain, row.props.domainId)] END | ",
            "MERGE (d:Domain {id: id}) MERGE (t)-[:BELONGS_TO]->(d))"
        )
    };
}

/// `User` nodes, `BELONGS_TO` their domain.
macro_rules! users {
    () => {
        concat!(
            "UNWIND $users AS row ",
            "MERGE (u:User {key: row.key}) ",
            when_changed_set!("u"),
            full_follows!("u", "name"),
            full_follows!("u", "id"),
            "FOREACH (id IN CASE WHEN row.props.domainId IS NULL THEN [] ",
            "ELSE [coalesce(row.domain, row.props.domainId)] END | ",
            "MERGE (d:Domain {id: id}) MERGE (u)-[:BELONGS_TO]->(d))"
        )
    };
}

/// `Resource` nodes, `MEMBER_OF` their tenant.
macro_rules! resources {
    () => {
        concat!(
            "UNWIND $resources AS row ",
            "MERGE (r:Resource {key: row.key}) ",
            when_changed_set!("r"),
            full_follows!("r", "id"),
            full_follows!("r", "name"),
            "MERGE (t:Tenant {projectId: coalesce(row.tenant, row.props.projectId)}) ",
            "MERGE (r)-[:MEMBER_OF]->(t)"
        )
    };
}

/// One relationship type from the action `a` to the nodes listed in
/// `row.<field>`: `CREATE`d for a new action, `MERGE`d for an existing one.
/// The target is `MERGE`d by key, so it exists even if it was removed
/// concurrently (by retention) after the node subqueries ran.
macro_rules! link {
    ($field:literal, $rel:literal, $label:literal, $key:literal) => {
        concat!(
            "FOREACH (k IN CASE WHEN new THEN row.",
            $field,
            " ELSE [] END | ",
            "MERGE (b:",
            $label,
            " {",
            $key,
            ": k}) CREATE (a)-[:",
            $rel,
            "]->(b)) ",
            "FOREACH (k IN CASE WHEN new THEN [] ELSE row.",
            $field,
            " END | ",
            "MERGE (b:",
            $label,
            " {",
            $key,
            ": k}) MERGE (a)-[:",
            $rel,
            "]->(b)) "
        )
    };
}

/// `Action` nodes with all their relationships, one row per trace. Rows are
/// `{key, props, performedBy, assumedBy, status, service, appliedOn, fromIp}`,
/// the last six lists of target keys. An existing action whose values are
/// all unchanged is skipped (a redelivered trace costs one index seek).
macro_rules! actions {
    () => {
        concat!(
            "UNWIND $actions AS row ",
            "MERGE (a:Action {traceId: row.key}) ",
            "WITH a, row, a.timeMs IS NULL AS new ",
            "WHERE new OR any(k IN keys(row.props) WHERE a[k] IS NULL OR a[k] <> row.props[k]) ",
            "SET a += row.props, a.storedAt = datetime(), a.time = datetime({epochMillis: row.props.timeMs}), ",
            "a.recordTime = CASE WHEN row.props.recordTimeMs IS NULL THEN null ",
            "ELSE datetime({epochMillis: row.props.recordTimeMs}) END",
            full_follows!("a", "name"),
            full_follows!("a", "requestId"),
            link!("performedBy", "PERFORMED_BY", "User", "key"),
            link!("assumedBy", "ASSUMED_BY", "User", "key"),
            link!("status", "WITH_STATUS", "Status", "name"),
            link!("service", "ON_SERVICE", "Service", "name"),
            link!("appliedOn", "APPLIED_ON", "Resource", "key"),
            link!("fromIp", "FROM_IP", "IpAddress", "address")
        )
    };
}

/// The whole write of one batch, in lock order. Parameters: `$regions`,
/// `$domains`, `$services`, `$statuses`, `$ips`, `$tenants`, `$users`,
/// `$resources`, `$actions` (see [`PARAMS`]).
pub(crate) const WRITE: &str = concat!(
    "CALL { ",
    regions!(),
    " } ",
    "CALL { ",
    domains!(),
    " } ",
    names!(),
    "CALL { ",
    tenants!(),
    " } ",
    "CALL { ",
    users!(),
    " } ",
    "CALL { ",
    resources!(),
    " } ",
    actions!()
);

/// The parameters of [`WRITE`], in the order they are used.
pub(crate) const PARAMS: [&str; 9] = [
    "regions",
    "domains",
    "services",
    "statuses",
    "ips",
    "tenants",
    "users",
    "resources",
    "actions",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_only_reads_its_parameters() {
        let used: Vec<&str> = WRITE
            .split('$')
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap_or("")
            })
            .collect();
        assert_eq!(used, PARAMS, "each parameter once, in lock order");
    }

    #[test]
    fn generated_text_is_well_formed() {
        assert!(WRITE.contains(
            "FOREACH (k IN CASE WHEN new THEN row.performedBy ELSE [] END | \
             MERGE (b:User {key: k}) CREATE (a)-[:PERFORMED_BY]->(b)) "
        ));
        assert!(WRITE.contains(
            "FOREACH (k IN CASE WHEN new THEN [] ELSE row.fromIp END | \
             MERGE (b:IpAddress {address: k}) MERGE (a)-[:FROM_IP]->(b))"
        ));
        assert!(
            WRITE.contains(
                "SET u += row.props , u.nameFull = CASE WHEN row.props.name IS NULL THEN \
                 u.nameFull ELSE row.props.nameFull END , u.idFull = "
            ),
            "{WRITE}"
        );
        assert!(WRITE.contains(
            "UNWIND $ips AS row MERGE (n:IpAddress {address: row.key}) WITH n, row WHERE \
             row.full IS NOT NULL AND (n.addressFull IS NULL OR n.addressFull <> row.full) \
             SET n.addressFull = row.full"
        ));
    }
}
