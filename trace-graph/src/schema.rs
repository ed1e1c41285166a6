//! The schema the writer relies on: a uniqueness constraint for every node
//! key (it also gives MERGE an index to seek) and range indexes for the
//! filters investigations use most (time, operation name, request id, names).
//!
//! Every statement uses `IF NOT EXISTS`, so running them at every start is
//! safe, also from several sinks at once.

/// `(name, statement)` for every constraint, in creation order.
pub(crate) const CONSTRAINTS: [(&str, &str); 11] = [
    ("tg_action_trace_id", "CREATE CONSTRAINT tg_action_trace_id IF NOT EXISTS FOR (n:Action) REQUIRE n.traceId IS UNIQUE"),
    ("tg_user_key", "CREATE CONSTRAINT tg_user_key IF NOT EXISTS FOR (n:User) REQUIRE n.key IS UNIQUE"),
    ("tg_resource_key", "CREATE CONSTRAINT tg_resource_key IF NOT EXISTS FOR (n:Resource) REQUIRE n.key IS UNIQUE"),
    ("tg_tenant_project_id", "CREATE CONSTRAINT tg_tenant_project_id IF NOT EXISTS FOR (n:Tenant) REQUIRE n.projectId IS UNIQUE"),
    ("tg_region_name", "CREATE CONSTRAINT tg_region_name IF NOT EXISTS FOR (n:Region) REQUIRE n.name IS UNIQUE"),
    ("tg_domain_id", "CREATE CONSTRAINT tg_domain_id IF NOT EXISTS FOR (n:Domain) REQUIRE n.id IS UNIQUE"),
    ("tg_service_name", "CREATE CONSTRAINT tg_service_name IF NOT EXISTS FOR (n:Service) REQUIRE n.name IS UNIQUE"),
    ("tg_status_name", "CREATE CONSTRAINT tg_status_name IF NOT EXISTS FOR (n:Status) REQUIRE n.name IS UNIQUE"),
    ("tg_ip_address", "CREATE CONSTRAINT tg_ip_address IF NOT EXISTS FOR (n:IpAddress) REQUIRE n.address IS UNIQUE"),
    ("tg_finding_id", "CREATE CONSTRAINT tg_finding_id IF NOT EXISTS FOR (n:Finding) REQUIRE n.id IS UNIQUE"),
    ("tg_detector_name", "CREATE CONSTRAINT tg_detector_name IF NOT EXISTS FOR (n:Detector) REQUIRE n.name IS UNIQUE"),
];

/// `(name, statement)` for every plain index.
pub(crate) const INDEXES: [(&str, &str); 8] = [
    (
        "tg_action_time",
        "CREATE INDEX tg_action_time IF NOT EXISTS FOR (n:Action) ON (n.time)",
    ),
    (
        "tg_action_name",
        "CREATE INDEX tg_action_name IF NOT EXISTS FOR (n:Action) ON (n.name)",
    ),
    (
        "tg_action_request_id",
        "CREATE INDEX tg_action_request_id IF NOT EXISTS FOR (n:Action) ON (n.requestId)",
    ),
    (
        "tg_resource_id",
        "CREATE INDEX tg_resource_id IF NOT EXISTS FOR (n:Resource) ON (n.id)",
    ),
    (
        "tg_resource_name",
        "CREATE INDEX tg_resource_name IF NOT EXISTS FOR (n:Resource) ON (n.name)",
    ),
    (
        "tg_user_name",
        "CREATE INDEX tg_user_name IF NOT EXISTS FOR (n:User) ON (n.name)",
    ),
    (
        "tg_user_id",
        "CREATE INDEX tg_user_id IF NOT EXISTS FOR (n:User) ON (n.id)",
    ),
    (
        "tg_action_stored_at",
        "CREATE INDEX tg_action_stored_at IF NOT EXISTS FOR (n:Action) ON (n.storedAt)",
    ),
];

/// Waits until every index is online, at most this many seconds.
pub(crate) const AWAIT_INDEXES: &str = "CALL db.awaitIndexes(300)";

/// The code that means another process created the same rule a moment earlier.
pub(crate) const EQUIVALENT_EXISTS: &str =
    "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists";

/// Lists the uniqueness constraints as `label`, `property` rows.
pub(crate) const SHOW_UNIQUE: &str = "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties \
     WHERE type IN ['UNIQUENESS', 'NODE_PROPERTY_UNIQUENESS'] AND size(properties) = 1 \
     RETURN labelsOrTypes[0] AS label, properties[0] AS property";

/// `(label, property)` of every node key; each must have a uniqueness
/// constraint, whatever its name.
pub(crate) const KEYS: [(&str, &str); 11] = [
    ("Action", "traceId"),
    ("User", "key"),
    ("Resource", "key"),
    ("Tenant", "projectId"),
    ("Region", "name"),
    ("Domain", "id"),
    ("Service", "name"),
    ("Status", "name"),
    ("IpAddress", "address"),
    ("Finding", "id"),
    ("Detector", "name"),
];

/// Names of every schema object this crate creates.
pub fn schema_names() -> Vec<&'static str> {
    CONSTRAINTS
        .iter()
        .chain(INDEXES.iter())
        .map(|(name, _)| *name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_is_idempotent_and_named() {
        for (name, stmt) in CONSTRAINTS.iter().chain(INDEXES.iter()) {
            assert!(stmt.contains(&format!(" {name} IF NOT EXISTS ")), "{stmt}");
        }
        for ((_, stmt), (label, prop)) in CONSTRAINTS.iter().zip(KEYS) {
            assert!(
                stmt.ends_with(&format!("FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE")),
                "{stmt}"
            );
        }
        let mut names = schema_names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CONSTRAINTS.len() + INDEXES.len());
    }
}
