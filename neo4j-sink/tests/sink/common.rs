//! Shared helpers: the real Neo4j from the environment, a sink served on a
//! real socket, CloudEvent builders and read-back queries.
//!
//! Tests run concurrently against one database, so every test makes its own
//! trace ids and project id from a fresh run id and only looks at those.

use clap::{CommandFactory, FromArgMatches};
use neo4j_sink::graph_store::GraphStore;
use neo4j_sink::{RawArgs, Settings, Shutdown, Sink};
use neo4rs::{query, Graph};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TYPE: &str = "com.otc.cts.trace.vpc.deleteeip";

pub struct Env {
    pub uri: String,
    pub user: String,
    pub password: String,
    /// A testcontainers Neo4j (no TLS listener), not NEO4J_URI's server.
    pub container: bool,
}

/// The server settings, or `None` (after saying so) when the test should skip:
/// NEO4J_URI's server, else a testcontainers Neo4j when a container engine
/// answers, else skip (or fail with NEO4J_REQUIRED=1) (`test_neo4j::server`).
pub fn env(test: &str) -> Option<Env> {
    let s = test_neo4j::server(test)?;
    Some(Env {
        container: s.source == test_neo4j::Source::Container,
        uri: s.uri,
        user: s.user,
        password: s.password,
    })
}

/// A prefix no other test or run uses.
pub fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Settings from flags only (the test process environment must not leak in).
pub fn settings(env: &Env, extra: &[&str]) -> Settings {
    let mut args = vec![
        "neo4j-sink".to_string(),
        format!("--neo4j-uri={}", env.uri),
        format!("--neo4j-user={}", env.user),
        format!("--neo4j-password={}", env.password),
        "--log-format=text".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let cmd = RawArgs::command().mut_args(|a| a.env(None));
    let matches = cmd.try_get_matches_from(args).expect("flags parse");
    RawArgs::from_arg_matches(&matches)
        .expect("args")
        .validate()
        .expect("valid settings")
}

/// A sink serving on 127.0.0.1 with the real trace-graph store.
pub struct TestSink {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<Shutdown>>,
}

impl TestSink {
    pub async fn start(env: &Env, extra: &[&str]) -> TestSink {
        let settings = settings(env, extra);
        let store = Arc::new(GraphStore::new(&settings.neo4j, settings.batch.max_events));
        let sink = Sink::start(&settings, store).await.expect("sink starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(sink.serve(listener, async move {
            let _ = stopped.await;
        }));
        TestSink {
            base,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task,
        }
    }

    /// Starts a sink and waits until `/readyz` says ready.
    pub async fn ready(env: &Env, extra: &[&str]) -> TestSink {
        let sink = TestSink::start(env, extra).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r = sink
                .http
                .get(sink.url("/readyz"))
                .send()
                .await
                .expect("readyz");
            if r.status() == 200 {
                return sink;
            }
            assert!(
                Instant::now() < deadline,
                "sink not ready in time: {}",
                r.text().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(mut self) -> Shutdown {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.await.expect("joined").expect("served")
    }

    pub async fn post_json(&self, content_type: &str, body: &Value) -> reqwest::Response {
        self.post_bytes(content_type, serde_json::to_vec(body).expect("json"))
            .await
    }

    pub async fn post_bytes(&self, content_type: &str, body: Vec<u8>) -> reqwest::Response {
        self.http
            .post(&self.base)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request")
    }

    /// A binary-mode request for `event` (a structured event value).
    pub fn binary(&self, event: &Value) -> reqwest::RequestBuilder {
        self.binary_as(event, "application/json")
    }

    /// A binary-mode request whose data is declared as `content_type`.
    pub fn binary_as(&self, event: &Value, content_type: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .post(&self.base)
            .header("content-type", content_type);
        for (k, v) in event.as_object().expect("object") {
            if k == "data" || k == "datacontenttype" {
                continue;
            }
            req = req.header(format!("ce-{k}"), v.as_str().expect("string attribute"));
        }
        req.body(serde_json::to_vec(&event["data"]).expect("json"))
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

/// The fixture trace with the given id (and a domain id scoped to the run).
pub fn trace(trace_id: &str, run: &str) -> Value {
    let text = include_str!("../fixtures/trace.json");
    let mut t: Value = serde_json::from_str(text).expect("fixture");
    t["trace_id"] = json!(trace_id);
    t["user"]["domain"]["id"] = json!(format!("dom-{run}"));
    t
}

/// A structured CloudEvent as the exporter sends it, for project `proj-<run>`.
pub fn event(trace_id: &str, run: &str) -> Value {
    json!({
        "specversion": "1.0",
        "id": trace_id,
        "source": format!("https://cts.eu-de.otc.t-systems.com/v3/proj-{run}?tracker=system"),
        "type": TYPE,
        "subject": "192.144.163.1",
        "time": "2023-11-14T22:13:20Z",
        "datacontenttype": "application/json",
        "service": "vpc",
        "operation": "deleteeip",
        "rating": "warning",
        "resourcetype": "eip",
        "resourceid": "d502809d-0d1d-41ce-9690-784282142ccc",
        "user": "alice",
        "region": "eu-de",
        "domain": format!("dom-{run}"),
        "project": format!("proj-{run}"),
        "tracker": "system",
        "data": trace(trace_id, run),
    })
}

pub fn graph(env: &Env) -> Graph {
    Graph::new(env.uri.as_str(), env.user.as_str(), env.password.as_str()).expect("graph")
}

/// How many Action nodes carry this trace id.
pub async fn actions(graph: &Graph, trace_id: &str) -> i64 {
    let mut rows = graph
        .execute(
            query("MATCH (a:Action {traceId: $id}) RETURN count(a) AS n").param("id", trace_id),
        )
        .await
        .expect("query");
    let row = rows.next().await.expect("row").expect("one row");
    row.get::<i64>("n").expect("n")
}

/// The project the action's resource is a member of.
pub async fn project_of(graph: &Graph, trace_id: &str) -> Option<String> {
    let mut rows = graph
        .execute(
            query(
                "MATCH (:Action {traceId: $id})-[:APPLIED_ON]->(:Resource)-[:MEMBER_OF]->(t:Tenant) \
                 RETURN t.projectId AS p",
            )
            .param("id", trace_id),
        )
        .await
        .expect("query");
    rows.next()
        .await
        .expect("row")
        .map(|r| r.get::<String>("p").expect("p"))
}

/// The value of one metric sample line, e.g. `neo4j_sink_queue_depth`.
pub fn sample(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} not found in:\n{metrics}"))
}

/// Polls `/readyz` until its `error` contains `needle`; returns the body.
pub async fn wait_not_ready_because(sink: &TestSink, needle: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = sink
            .http
            .get(sink.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        assert_eq!(r.status(), 503);
        let body: Value = r.json().await.expect("json");
        if body["error"].as_str().is_some_and(|e| e.contains(needle)) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "readyz never explained {needle:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
