//! Retention against the real server. Test data lives around the year 1900
//! (negative epoch milliseconds), so deleting "older than 30 000 days" can
//! only touch this test's actions, whatever else runs concurrently.

use crate::db::{self, rows};
use neo4rs::query;
use serde_json::json;
use trace_graph::{TraceContext, TraceRecord};

const YEAR_1900_MS: i64 = -2_208_988_800_000;

fn trace(run: &str, i: usize, time: i64, user: &str, resource: &str) -> TraceRecord {
    let t = json!({
        "trace_id": format!("{run}{i}"), "time": time, "trace_rating": "normal",
        "user": {"name": user, "domain": {"id": format!("{run}dom")}},
        "service_type": format!("{run}SVC"), "resource_type": "thing", "resource_id": resource,
        "source_ip": format!("{run}ip-{user}"),
    });
    let ctx = TraceContext::new(format!("{run}proj-{resource}"), format!("{run}region"))
        .with_domain(format!("{run}dom"), None);
    TraceRecord::new(serde_json::from_value(t).expect("trace"), ctx)
}

#[tokio::test]
async fn old_actions_and_the_nodes_only_they_used_are_deleted_in_chunks() {
    let Some((writer, graph)) =
        db::writer("old_actions_and_the_nodes_only_they_used_are_deleted_in_chunks").await
    else {
        return;
    };
    let run = db::run_id("ret");
    let mut records = Vec::new();
    // Seven old actions: "old" user on resource r-old (only old actions), and
    // "both" user on resource r-shared, which also has a recent action.
    for i in 0..5 {
        records.push(trace(&run, i, YEAR_1900_MS + i as i64, "old", "r-old"));
    }
    for i in 5..7 {
        records.push(trace(&run, i, YEAR_1900_MS + i as i64, "both", "r-shared"));
    }
    records.push(trace(&run, 7, 1_717_000_000_000, "both", "r-shared"));
    writer.write(&records).await.expect("write");

    let report = writer
        .delete_older_than(30_000, 2)
        .await
        .expect("retention");
    assert_eq!(report.actions_deleted, 7);
    assert_eq!(report.chunks, 4, "7 actions in chunks of 2");
    // Gone: user "old", its IP, resource r-old, its tenant. Kept: the rest.
    assert_eq!(report.nodes_deleted, 4, "{report:?}");

    let one = |text: &'static str| query(text).param("run", run.as_str());
    let left = rows(
        &graph,
        one("MATCH (a:Action) WHERE a.traceId STARTS WITH $run RETURN collect(a.traceId) AS ids"),
    )
    .await;
    assert_eq!(left[0]["ids"], json!([format!("{run}7")]));
    let users = rows(
        &graph,
        one("MATCH (u:User) WHERE u.key STARTS WITH $run RETURN collect(u.name) AS n"),
    )
    .await;
    assert_eq!(users[0]["n"], json!(["both"]));
    let resources = rows(
        &graph,
        one("MATCH (r:Resource) WHERE r.key STARTS WITH $run RETURN collect(r.id) AS n"),
    )
    .await;
    assert_eq!(resources[0]["n"], json!(["r-shared"]));
    let tenants = rows(
        &graph,
        one("MATCH (t:Tenant) WHERE t.projectId STARTS WITH $run RETURN count(t) AS c"),
    )
    .await;
    assert_eq!(tenants[0]["c"], json!(1));
    let ips = rows(
        &graph,
        one("MATCH (i:IpAddress) WHERE i.address STARTS WITH $run RETURN collect(i.address) AS a"),
    )
    .await;
    assert_eq!(ips[0]["a"], json!([format!("{run}ip-both")]));
    let region = rows(
        &graph,
        one("MATCH (r:Region) WHERE r.name STARTS WITH $run RETURN count(r) AS c"),
    )
    .await;
    assert_eq!(region[0]["c"], json!(1));

    db::cleanup(&graph, &run).await;
}

#[tokio::test]
async fn a_zero_chunk_is_refused() {
    let Some((writer, _)) = db::writer("a_zero_chunk_is_refused").await else {
        return;
    };
    let err = writer.delete_older_than(30, 0).await.expect_err("chunk 0");
    assert!(err.to_string().contains("chunk"), "{err}");
}
