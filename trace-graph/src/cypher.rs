//! Every Cypher statement the writer sends, as text fixed at compile time.
//!
//! **Invariant:** no value from a trace is ever part of a statement's text.
//! Traces reach Neo4j only as parameters (`$rows`); labels, relationship
//! types and property names come from the constants below. The writer runs
//! the statements in the order of [`WRITE_STEPS`], each list sorted by key,
//! so every transaction takes its locks in one global order.

/// The parameter every statement unwinds.
pub(crate) const ROWS: &str = "rows";

/// Sets `props` on node `n` only when some value differs, so re-writing
/// unchanged data takes no write lock on a shared node.
macro_rules! set_if_changed {
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
            " += row.props"
        )
    };
}

/// `Region` nodes; rows are names.
pub(crate) const REGIONS: &str = "UNWIND $rows AS name MERGE (:Region {name: name})";

/// `Domain` nodes; rows are `{id, name}`.
pub(crate) const DOMAINS: &str = "UNWIND $rows AS row \
     MERGE (d:Domain {id: row.id}) \
     WITH d, row WHERE row.name IS NOT NULL AND (d.name IS NULL OR d.name <> row.name) \
     SET d.name = row.name";

/// `Service` nodes; rows are names.
pub(crate) const SERVICES: &str = "UNWIND $rows AS name MERGE (:Service {name: name})";

/// `Status` nodes; rows are names.
pub(crate) const STATUSES: &str = "UNWIND $rows AS name MERGE (:Status {name: name})";

/// `IpAddress` nodes; rows are addresses.
pub(crate) const IPS: &str = "UNWIND $rows AS address MERGE (:IpAddress {address: address})";

/// `Tenant` nodes with `LOCATED_AT` their region and `BELONGS_TO` their domain.
pub(crate) const TENANTS: &str = concat!(
    "UNWIND $rows AS row ",
    "MERGE (t:Tenant {projectId: row.key}) ",
    "MERGE (r:Region {name: row.props.region}) ",
    "MERGE (t)-[:LOCATED_AT]->(r) ",
    "FOREACH (id IN CASE WHEN row.props.domainId IS NULL THEN [] ELSE [row.props.domainId] END | ",
    "MERGE (d:Domain {id: id}) MERGE (t)-[:BELONGS_TO]->(d)) ",
    set_if_changed!("t")
);

/// `User` nodes with `BELONGS_TO` their domain.
pub(crate) const USERS: &str = concat!(
    "UNWIND $rows AS row ",
    "MERGE (u:User {key: row.key}) ",
    "FOREACH (id IN CASE WHEN row.props.domainId IS NULL THEN [] ELSE [row.props.domainId] END | ",
    "MERGE (d:Domain {id: id}) MERGE (u)-[:BELONGS_TO]->(d)) ",
    set_if_changed!("u")
);

/// `Resource` nodes, `MEMBER_OF` their tenant.
pub(crate) const RESOURCES: &str = concat!(
    "UNWIND $rows AS row ",
    "MERGE (r:Resource {key: row.key}) ",
    "MERGE (t:Tenant {projectId: row.props.projectId}) ",
    "MERGE (r)-[:MEMBER_OF]->(t) ",
    set_if_changed!("r")
);

/// `Action` nodes; `time`/`recordTime` become DATETIME values.
pub(crate) const ACTIONS: &str = concat!(
    "UNWIND $rows AS row ",
    "MERGE (a:Action {traceId: row.key}) ",
    set_if_changed!("a"),
    ", a.time = datetime({epochMillis: row.props.timeMs}), ",
    "a.recordTime = CASE WHEN row.props.recordTimeMs IS NULL THEN null ",
    "ELSE datetime({epochMillis: row.props.recordTimeMs}) END"
);

/// One relationship from an `Action` to a node found by its key.
/// Rows are `{a: traceId, b: target key}`, sorted by target then action.
macro_rules! action_rel {
    ($rel:literal, $label:literal, $key:literal) => {
        concat!(
            "UNWIND $rows AS row ",
            "MATCH (a:Action {traceId: row.a}) ",
            "MERGE (b:",
            $label,
            " {",
            $key,
            ": row.b}) ",
            "MERGE (a)-[:",
            $rel,
            "]->(b)"
        )
    };
}

/// `(Action)-[:PERFORMED_BY]->(User)`.
pub(crate) const PERFORMED_BY: &str = action_rel!("PERFORMED_BY", "User", "key");
/// `(Action)-[:ASSUMED_BY]->(User)`: the real user behind an agency.
pub(crate) const ASSUMED_BY: &str = action_rel!("ASSUMED_BY", "User", "key");
/// `(Action)-[:WITH_STATUS]->(Status)`.
pub(crate) const WITH_STATUS: &str = action_rel!("WITH_STATUS", "Status", "name");
/// `(Action)-[:ON_SERVICE]->(Service)`.
pub(crate) const ON_SERVICE: &str = action_rel!("ON_SERVICE", "Service", "name");
/// `(Action)-[:APPLIED_ON]->(Resource)`.
pub(crate) const APPLIED_ON: &str = action_rel!("APPLIED_ON", "Resource", "key");
/// `(Action)-[:FROM_IP]->(IpAddress)`.
pub(crate) const FROM_IP: &str = action_rel!("FROM_IP", "IpAddress", "address");

/// Which list feeds which statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Regions,
    Domains,
    Services,
    Statuses,
    Ips,
    Tenants,
    Users,
    Resources,
    Actions,
    PerformedBy,
    AssumedBy,
    WithStatus,
    OnService,
    AppliedOn,
    FromIp,
}

/// The statements of one write transaction, in lock order.
pub(crate) const WRITE_STEPS: [(Step, &str); 15] = [
    (Step::Regions, REGIONS),
    (Step::Domains, DOMAINS),
    (Step::Services, SERVICES),
    (Step::Statuses, STATUSES),
    (Step::Ips, IPS),
    (Step::Tenants, TENANTS),
    (Step::Users, USERS),
    (Step::Resources, RESOURCES),
    (Step::Actions, ACTIONS),
    (Step::PerformedBy, PERFORMED_BY),
    (Step::AssumedBy, ASSUMED_BY),
    (Step::WithStatus, WITH_STATUS),
    (Step::OnService, ON_SERVICE),
    (Step::AppliedOn, APPLIED_ON),
    (Step::FromIp, FROM_IP),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_only_read_parameters() {
        for (_, text) in WRITE_STEPS {
            assert!(text.starts_with("UNWIND $rows AS "), "{text}");
            assert_eq!(text.matches('$').count(), 1, "only $rows: {text}");
        }
    }

    #[test]
    fn generated_text_is_well_formed() {
        assert_eq!(
            PERFORMED_BY,
            "UNWIND $rows AS row MATCH (a:Action {traceId: row.a}) \
             MERGE (b:User {key: row.b}) MERGE (a)-[:PERFORMED_BY]->(b)"
        );
        assert!(
            ACTIONS.contains("SET a += row.props, a.time = datetime("),
            "{ACTIONS}"
        );
    }
}
