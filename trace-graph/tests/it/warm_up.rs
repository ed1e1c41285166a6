//! `GraphWriter::warm_up` against the real Neo4j: it runs the write statement
//! but nothing it writes is ever visible, during or after, and real writes
//! work the same afterwards.

use crate::db;
use crate::synth;
use neo4rs::{query, Graph};
use std::time::Duration;
use trace_graph::WarmUp;

/// Nodes whose key starts with the warm-up prefix, label by label (each a
/// range seek on the key's uniqueness constraint).
async fn warm_up_nodes(graph: &Graph) -> i64 {
    let keys = [
        ("Action", "traceId"),
        ("User", "key"),
        ("Resource", "key"),
        ("Tenant", "projectId"),
        ("Region", "name"),
        ("Domain", "id"),
        ("Service", "name"),
        ("Status", "name"),
        ("IpAddress", "address"),
    ];
    let mut total = 0;
    for (label, key) in keys {
        let q = format!(
            "MATCH (n:{label}) WHERE n.{key} STARTS WITH 'tg-warmup-' RETURN count(n) AS n"
        );
        let mut rows = graph.execute(query(&q)).await.expect("count");
        let row = rows.next().await.expect("row").expect("one row");
        total += row.get::<i64>("n").expect("n");
    }
    total
}

#[tokio::test]
async fn a_warm_up_writes_nothing_visible_during_or_after() {
    let Some((writer, graph)) = db::writer("warm_up").await else {
        return;
    };
    assert_eq!(warm_up_nodes(&graph).await, 0, "no leftovers before");
    let mut plan = WarmUp::for_batch_size(100);
    plan.budget = Duration::from_secs(60);
    plan.max_traces = 600;
    plan.stop_when_flat = false;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (graph, done) = (graph.clone(), done.clone());
        tokio::spawn(async move {
            let mut looks = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(warm_up_nodes(&graph).await, 0, "a reader saw warm-up data");
                looks += 1;
            }
            looks
        })
    };
    let report = writer.warm_up(&plan).await.expect("warm-up");
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let looks = watcher.await.expect("watcher");
    assert!(report.traces >= 600, "{report:?}");
    assert!(report.transactions >= 3, "{report:?}");
    assert!(looks >= 1, "the reader looked during the warm-up");
    assert_eq!(warm_up_nodes(&graph).await, 0, "nothing left after");

    // Real writes afterwards are unaffected.
    let run = db::run_id("warm");
    let traces = synth::traces(&run, 50);
    let written = writer.write(&traces).await.expect("write");
    assert_eq!(written.written, 50);
    let mut rows = graph
        .execute(
            query("MATCH (a:Action) WHERE a.traceId STARTS WITH $run RETURN count(a) AS n")
                .param("run", run.clone()),
        )
        .await
        .expect("count");
    let n: i64 = rows
        .next()
        .await
        .expect("row")
        .expect("row")
        .get("n")
        .expect("n");
    assert_eq!(n, 50);
    db::cleanup(&graph, &run).await;
}

#[tokio::test]
async fn an_empty_plan_does_nothing() {
    let Some((writer, _graph)) = db::writer("warm_up_empty").await else {
        return;
    };
    let mut plan = WarmUp::for_batch_size(10);
    plan.batch_sizes.clear();
    let report = writer.warm_up(&plan).await.expect("warm-up");
    assert_eq!(report.transactions, 0);
    plan = WarmUp::for_batch_size(10);
    plan.max_traces = 0;
    assert_eq!(
        writer.warm_up(&plan).await.expect("warm-up").transactions,
        0
    );
}
