//! The original Go sink's write pattern, emulated faithfully for comparison:
//! one transaction per trace running the eleven-MERGE chain of
//! `akyriako/cloudtrace-exporter` `pkg/neo4j/client.go`, with its labels
//! prefixed `Orig` and, like the original, no constraints or indexes.

use crate::run;
use neo4rs::{query, BoltMap, BoltString, BoltType, Graph};
use std::time::{Duration, Instant};
use trace_graph::TraceRecord;

/// The original sink's statement (akyriako/cloudtrace-exporter pkg/neo4j/client.go), labels prefixed `Orig`.
const ORIGINAL: &str = "WITH datetime({epochMillis: $ts}) AS ts \
MERGE (region:OrigREGION {name: $region}) \
MERGE (status:OrigSTATUS {id: $status}) \
MERGE (subject:OrigSUBJECT {id: $subject}) \
MERGE (tenant:OrigTENANT {tenantId: $tenantId, domainId: $domainId}) \
MERGE (resource:OrigRESOURCE {id: $resourceId}) \
MERGE (action:OrigACTION {id: $actionId, timestamp: ts, source: $source, type: $type, status: $status})-[:APPLIED_ON]->(resource) \
MERGE (tenant)-[:LOCATED_AT]->(region) \
MERGE (resource)-[:MEMBER_OF]->(tenant) \
MERGE (action)-[:APPLIED_ON]->(resource) \
MERGE (action)-[:WITH_STATUS]->(status) \
MERGE (action)-[:PERFORMED_BY {status: $status}]->(subject)";

/// The CloudEvent-derived parameters the original sink sends for one trace.
fn original_params(r: &TraceRecord) -> Vec<(&'static str, BoltType)> {
    let t = &r.trace;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let ce_type = format!(
        "{}.{}.{}.{}",
        s(&t.service_type),
        s(&t.trace_type),
        s(&t.resource_type),
        s(&t.trace_name)
    )
    .to_lowercase()
    .trim_end_matches('.')
    .to_owned();
    vec![
        ("ts", BoltType::from(t.time.unwrap_or_default())),
        ("region", BoltType::from(r.context.region.as_str())),
        (
            "status",
            BoltType::from(t.trace_rating.as_ref().map(|x| x.as_str()).unwrap_or("")),
        ),
        (
            "subject",
            BoltType::from(
                t.resource_name
                    .clone()
                    .or(t.resource_id.clone())
                    .unwrap_or_default(),
            ),
        ),
        ("tenantId", BoltType::from(r.context.project_id.as_str())),
        (
            "domainId",
            BoltType::from(r.context.domain_id.clone().unwrap_or_default()),
        ),
        ("resourceId", BoltType::from(s(&t.resource_id))),
        ("actionId", BoltType::from(s(&t.trace_id))),
        (
            "source",
            BoltType::from(format!(
                "https://cts.{}.otc.t-systems.com/v3/{}",
                r.context.region, r.context.project_id
            )),
        ),
        ("type", BoltType::from(ce_type)),
    ]
}

/// Fills the `Orig` namespace with the original's graph shape for `records`,
/// fast (temporary indexes, UNWIND), so the measurement starts from the same size.
pub async fn preload_original(graph: &Graph, records: &[TraceRecord]) {
    let indexes = [
        "CREATE INDEX orig_tmp_region IF NOT EXISTS FOR (n:OrigREGION) ON (n.name)",
        "CREATE INDEX orig_tmp_status IF NOT EXISTS FOR (n:OrigSTATUS) ON (n.id)",
        "CREATE INDEX orig_tmp_subject IF NOT EXISTS FOR (n:OrigSUBJECT) ON (n.id)",
        "CREATE INDEX orig_tmp_tenant IF NOT EXISTS FOR (n:OrigTENANT) ON (n.tenantId, n.domainId)",
        "CREATE INDEX orig_tmp_resource IF NOT EXISTS FOR (n:OrigRESOURCE) ON (n.id)",
    ];
    for i in indexes {
        run(graph, i).await;
    }
    run(graph, "CALL db.awaitIndexes(300)").await;
    let text = "UNWIND $rows AS r \
        MERGE (region:OrigREGION {name: r.region}) MERGE (status:OrigSTATUS {id: r.status}) \
        MERGE (subject:OrigSUBJECT {id: r.subject}) \
        MERGE (tenant:OrigTENANT {tenantId: r.tenantId, domainId: r.domainId}) \
        MERGE (resource:OrigRESOURCE {id: r.resourceId}) \
        CREATE (action:OrigACTION {id: r.actionId, timestamp: datetime({epochMillis: r.ts}), source: r.source, type: r.type, status: r.status})-[:APPLIED_ON]->(resource) \
        MERGE (tenant)-[:LOCATED_AT]->(region) MERGE (resource)-[:MEMBER_OF]->(tenant) \
        CREATE (action)-[:WITH_STATUS]->(status) CREATE (action)-[:PERFORMED_BY {status: r.status}]->(subject)";
    for chunk in records.chunks(2000) {
        let rows: Vec<BoltType> = chunk
            .iter()
            .map(|r| {
                let mut m = BoltMap::new();
                for (k, v) in original_params(r) {
                    m.put(BoltString::from(k), v);
                }
                BoltType::Map(m)
            })
            .collect();
        graph
            .run(query(text).param("rows", rows))
            .await
            .expect("preload");
    }
    for name in [
        "orig_tmp_region",
        "orig_tmp_status",
        "orig_tmp_subject",
        "orig_tmp_tenant",
        "orig_tmp_resource",
    ] {
        run(graph, &format!("DROP INDEX {name} IF EXISTS")).await;
    }
}

/// The original pattern: one explicit transaction per trace.
pub async fn original_rate(
    graph: &Graph,
    records: &[TraceRecord],
    budget: Duration,
) -> (usize, f64) {
    let start = Instant::now();
    let mut done = 0;
    for r in records {
        let mut txn = graph.start_txn().await.expect("txn");
        txn.run(query(ORIGINAL).params(original_params(r)))
            .await
            .expect("original MERGE chain");
        txn.commit().await.expect("commit");
        done += 1;
        if start.elapsed() > budget {
            break;
        }
    }
    (done, done as f64 / start.elapsed().as_secs_f64())
}
