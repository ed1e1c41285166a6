//! Access to the real Neo4j for tests: the server `test_neo4j::server` chooses
//! (NEO4J_URI, else a testcontainers Neo4j when a container engine answers, else
//! skip, or fail with NEO4J_REQUIRED=1), per-test namespaces, read-back helpers, cleanup.
//!
//! Tests run concurrently against one database, so every test prefixes its
//! trace ids, project ids and domain ids with a unique run id and only counts
//! what hangs off its own actions.

use crate::fixtures::Fixture;
use neo4rs::{query, Graph};
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use trace_graph::{GraphConfig, GraphWriter, TraceRecord};

pub struct Env {
    pub uri: String,
    pub user: String,
    pub password: String,
    /// A testcontainers Neo4j (no TLS listener), not NEO4J_URI's server.
    pub container: bool,
}

/// The server settings, or `None` (after printing why) when tests should skip.
pub fn env(test: &str) -> Option<Env> {
    let s = test_neo4j::server(test)?;
    Some(Env {
        container: s.source == test_neo4j::Source::Container,
        uri: s.uri,
        user: s.user,
        password: s.password,
    })
}

pub fn config(env: &Env) -> GraphConfig {
    GraphConfig::new(env.uri.clone(), env.user.clone(), env.password.clone())
}

/// A connected writer with the schema in place, or `None` to skip.
pub async fn writer(test: &str) -> Option<(GraphWriter, Graph)> {
    let env = env(test)?;
    let writer = GraphWriter::connect(config(&env))
        .await
        .expect("connect to Neo4j");
    writer.ensure_schema().await.expect("schema");
    let graph =
        Graph::new(env.uri.as_str(), env.user.as_str(), env.password.as_str()).expect("graph");
    Some((writer, graph))
}

/// A prefix no other test (or run) uses.
pub fn run_id(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!(
        "{tag}{:x}{}-",
        nanos % 0xffff_ffff_ffff,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn prefix_str(v: &mut Value, run: &str) {
    if let Some(s) = v.as_str().filter(|s| !s.trim().is_empty()) {
        *v = Value::String(format!("{run}{s}"));
    }
}

fn prefix_user(user: &mut Value, run: &str) {
    prefix_str(&mut user["domain"]["id"], run);
    prefix_str(&mut user["domain"]["name"], run);
    if user.get("assumedBy").is_some() {
        prefix_user(&mut user["assumedBy"]["user"], run);
    }
}

/// The fixture moved into the run's namespace: trace id, project, domains.
pub fn isolate(f: &Fixture, run: &str) -> TraceRecord {
    let mut t = f.trace_json.clone();
    prefix_str(&mut t["trace_id"], run);
    match t.get("user").cloned() {
        Some(Value::String(s)) => {
            let mut inner: Value = serde_json::from_str(&s).expect("user JSON string");
            prefix_user(&mut inner, run);
            t["user"] = Value::String(inner.to_string());
        }
        Some(Value::Object(_)) => prefix_user(&mut t["user"], run),
        _ => {}
    }
    let mut ctx = f.context.clone();
    if !ctx.project_id.is_empty() {
        ctx.project_id = format!("{run}{}", ctx.project_id);
    }
    ctx.domain_id = ctx.domain_id.map(|d| format!("{run}{d}"));
    ctx.domain_name = ctx.domain_name.map(|d| format!("{run}{d}"));
    TraceRecord::new(serde_json::from_value(t).expect("trace"), ctx)
}

/// Runs a read query and returns every row as JSON (DATETIME values must be projected away).
pub async fn rows(graph: &Graph, q: neo4rs::Query) -> Vec<Value> {
    let mut stream = graph.execute(q).await.expect("query");
    let mut out = Vec::new();
    while let Some(row) = stream.next().await.expect("row") {
        out.push(row.to::<Value>().expect("row as JSON"));
    }
    out
}

/// Drops null members, recursively (properties that are absent come back as null in projections).
pub fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Counts the run's actions, and the relationships and nodes (actions
/// included) reachable from them in up to three hops.
pub async fn counts(graph: &Graph, run: &str) -> (i64, i64, i64) {
    let one = |text: &'static str| query(text).param("run", run);
    let actions = rows(
        graph,
        one("MATCH (a:Action) WHERE a.traceId STARTS WITH $run RETURN count(a) AS c"),
    )
    .await;
    let rels = rows(
        graph,
        one(
            "MATCH (a:Action) WHERE a.traceId STARTS WITH $run MATCH (a)-[rs*1..3]->() \
             UNWIND rs AS r RETURN count(DISTINCT r) AS c",
        ),
    )
    .await;
    let nodes = rows(
        graph,
        one(
            "MATCH (a:Action) WHERE a.traceId STARTS WITH $run MATCH (a)-[*0..3]->(n) \
             RETURN count(DISTINCT n) AS c",
        ),
    )
    .await;
    let c = |v: &[Value]| v[0]["c"].as_i64().expect("count");
    (c(&actions), c(&rels), c(&nodes))
}

/// Deletes the run's data: its actions, users, resources, tenants, domains.
pub async fn cleanup(graph: &Graph, run: &str) {
    for q in [
        "MATCH (a:Action) WHERE a.traceId STARTS WITH $run DETACH DELETE a",
        "MATCH (r:Resource) WHERE r.key STARTS WITH $run DETACH DELETE r",
        "MATCH (t:Tenant) WHERE t.projectId STARTS WITH $run DETACH DELETE t",
        "MATCH (u:User) WHERE u.key CONTAINS $run DETACH DELETE u",
        "MATCH (d:Domain) WHERE d.id STARTS WITH $run DETACH DELETE d",
    ] {
        graph
            .run(query(q).param("run", run))
            .await
            .expect("cleanup");
    }
}
