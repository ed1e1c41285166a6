//! Loads JSON traces into Neo4j with trace-graph.
//!
//! ```text
//! eval "$(scripts/neo4j-local env)"
//! cargo run -p trace-graph --example load_fixtures -- PROJECT_ID REGION FILE.json...
//! ```
//!
//! Each file holds one trace object, an array of traces, or a CTS list page
//! (`{"traces": [...]}`); files of the form `{"context": ..., "trace": ...}`
//! (the test fixtures) carry their own context.

use std::process::ExitCode;
use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};

fn records(path: &str, ctx: &TraceContext) -> Result<Vec<TraceRecord>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
    let (traces, context) = match value {
        serde_json::Value::Array(items) => (items, ctx.clone()),
        serde_json::Value::Object(ref m) if m.contains_key("traces") => (
            m["traces"].as_array().cloned().unwrap_or_default(),
            ctx.clone(),
        ),
        serde_json::Value::Object(ref m) if m.contains_key("trace") => {
            let own = serde_json::from_value(m["context"].clone())
                .map_err(|e| format!("{path}: context: {e}"))?;
            (vec![m["trace"].clone()], own)
        }
        other => (vec![other], ctx.clone()),
    };
    traces
        .into_iter()
        .map(|t| {
            serde_json::from_value(t)
                .map(|trace| TraceRecord::new(trace, context.clone()))
                .map_err(|e| format!("{path}: not a trace: {e}"))
        })
        .collect()
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: load_fixtures PROJECT_ID REGION FILE.json...");
        return ExitCode::from(2);
    }
    let ctx = TraceContext::new(args[0].clone(), args[1].clone());
    let mut all = Vec::new();
    for path in &args[2..] {
        match records(path, &ctx) {
            Ok(mut r) => all.append(&mut r),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    }
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let config = GraphConfig::new(
        env("NEO4J_URI", "bolt://localhost:7687"),
        env("NEO4J_USER", "neo4j"),
        env("NEO4J_PASSWORD", ""),
    );
    let result = async {
        let writer = GraphWriter::connect(config).await?;
        writer.ensure_schema().await?;
        writer.write(&all).await
    }
    .await;
    match result {
        Ok(report) => {
            println!("written: {}", report.written);
            for (i, why) in &report.rejected {
                println!("rejected #{i}: {why}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
