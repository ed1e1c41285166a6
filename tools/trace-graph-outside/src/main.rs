//! trace-graph as a library user gets it: writes/s and per-request latency from outside the workspace.
//!
//! ```text
//! eval "$(scripts/neo4j-local env)"
//! cd tools/trace-graph-outside
//! cargo run --release                     # the stock neo4rs from crates.io
//! cargo run --release --config 'patch.crates-io.neo4rs.path="../../vendor/neo4rs"'   # the documented fix
//! ```
//!
//! It prints what `GraphWriter::connect` found (`bolt_latency`, and its warning on stderr), the mean time
//! of one `RETURN size($p)` request per parameter size, and the rate of `GraphWriter::write` at batch 50
//! and 1000 on synthetic traces of its own run prefix, which it deletes afterwards.

use neo4rs::{query, BoltType, Graph};
use std::process::ExitCode;
use std::time::Instant;
use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};

fn traces(run: &str, from: usize, n: usize) -> Vec<TraceRecord> {
    let ratings = ["normal", "warning", "incident"];
    (from..from + n)
        .map(|i| {
            let trace = serde_json::json!({
                "trace_id": format!("{run}{i:07}"),
                "trace_name": format!("op{}", i % 9),
                "trace_rating": ratings[i % 3],
                "trace_type": "ApiCall",
                "time": 1_717_000_000_000_i64 + i as i64,
                "user": {"id": format!("uid{}", i % 20), "name": format!("user{}", i % 20),
                         "domain": {"id": format!("{run}dom"), "name": "dom"}},
                "service_type": "VPC",
                "resource_type": "vpc",
                "resource_id": format!("res{}", i % 50),
                "source_ip": format!("10.0.{}.{}", i % 4, i % 200),
                "request_id": format!("req{i}"),
                "request": format!("{{\"n\":{i},\"body\":\"{}\"}}", "x".repeat(300)),
            });
            let trace: cts_client::Trace = serde_json::from_value(trace).expect("trace");
            TraceRecord::new(trace, TraceContext::new(format!("{run}proj"), "eu-de"))
        })
        .collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let Ok(uri) = std::env::var("NEO4J_URI") else {
        eprintln!("NEO4J_URI is not set; run: eval \"$(scripts/neo4j-local env)\"");
        return ExitCode::from(2);
    };
    let user = std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let password = std::env::var("NEO4J_PASSWORD").unwrap_or_default();
    let total: usize = std::env::var("OUTSIDE_TRACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let run = format!("outside{}-", std::process::id());

    let mut config = GraphConfig::new(uri.clone(), user.clone(), password.clone());
    config.write_concurrency = 1;
    let started = Instant::now();
    let writer = match GraphWriter::connect(config.clone()).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("connect: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "connect (with the latency check): {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    println!("bolt_latency: {:?}", writer.bolt_latency());
    if let Err(e) = writer.ensure_schema().await {
        eprintln!("schema: {e}");
        return ExitCode::FAILURE;
    }

    let graph = Graph::new(uri.as_str(), user.as_str(), password.as_str()).expect("graph");
    println!("| request parameter | mean of 10 |");
    println!("|---|---|");
    for size in [100usize, 7_000, 9_000, 20_000, 70_000] {
        let param = BoltType::from("x".repeat(size));
        let mut total_us = 0u128;
        for _ in 0..10 {
            let mut txn = graph.start_txn().await.expect("txn");
            let t = Instant::now();
            txn.run(query("RETURN size($p)").param("p", param.clone()))
                .await
                .expect("run");
            total_us += t.elapsed().as_micros();
            txn.commit().await.expect("commit");
        }
        println!("| {size} bytes | {:.1} ms |", total_us as f64 / 10_000.0);
    }

    let mut from = 0;
    for batch in [50usize, 1000] {
        config.batch_size = batch;
        config.check_bolt_latency = false;
        let w = GraphWriter::connect(config.clone()).await.expect("connect");
        // Warm the statement first so both sizes see a planned query.
        w.write(&traces(&run, from, batch)).await.expect("warm");
        from += batch;
        let input = traces(&run, from, total);
        from += total;
        let t = Instant::now();
        let report = w.write(&input).await.expect("write");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "batch {batch}: {} traces in {:.2} s = {:.0} traces/s, {:.1} ms per transaction",
            report.written,
            secs,
            report.written as f64 / secs,
            secs * 1e3 / report.transactions.max(1) as f64
        );
    }
    for q in [
        "MATCH (a:Action) WHERE a.traceId STARTS WITH $run CALL (a) { DETACH DELETE a } IN TRANSACTIONS OF 5000 ROWS",
        "MATCH (t:Tenant) WHERE t.projectId STARTS WITH $run OPTIONAL MATCH (r:Resource)-[:MEMBER_OF]->(t) DETACH DELETE r, t",
        "MATCH (d:Domain) WHERE d.id STARTS WITH $run OPTIONAL MATCH (u:User)-[:BELONGS_TO]->(d) DETACH DELETE u, d",
    ] {
        if let Err(e) = graph.run(query(q).param("run", run.as_str())).await {
            eprintln!("cleanup failed ({e}); the data has the prefix {run}");
        }
    }
    ExitCode::SUCCESS
}
