//! The playbook's sample data: `tests/fixtures/playbook/traces.json` turned
//! into trace records in a namespace of their own, and loaded once per test
//! process through the real `GraphWriter`.
//!
//! The namespace is derived from the file's content, so every run of the same
//! fixture writes the same (idempotent) data, concurrent runs do not disturb
//! each other, and an edited fixture never meets its stale predecessor.

use serde_json::Value;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::OnceLock;
use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/playbook")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name))
        .unwrap_or_else(|e| panic!("read fixtures/playbook/{name}: {e}"))
}

/// The prefix of every project id, domain and trace id of this fixture version.
pub fn namespace() -> String {
    let mut h = DefaultHasher::new();
    read("traces.json").hash(&mut h);
    format!("pb{:012x}-", h.finish() & 0xffff_ffff_ffff)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2024-06-03T09:00:00Z` to epoch milliseconds (the only form the fixture uses).
pub fn epoch_ms(iso: &str) -> i64 {
    let n = |a: usize, b: usize| -> i64 {
        iso[a..b]
            .parse()
            .unwrap_or_else(|_| panic!("fixture time {iso:?} is not YYYY-MM-DDTHH:MM:SSZ"))
    };
    assert!(
        iso.len() == 20 && iso.ends_with('Z'),
        "fixture time {iso:?} is not YYYY-MM-DDTHH:MM:SSZ"
    );
    let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000
}

fn prefix(v: &mut Value, ns: &str) {
    if let Some(s) = v.as_str() {
        *v = Value::String(format!("{ns}{s}"));
    }
}

/// Every fixture trace, moved into the namespace `ns`.
pub fn records(ns: &str) -> Vec<TraceRecord> {
    let doc: Value = serde_json::from_str(&read("traces.json")).expect("traces.json is JSON");
    let traces = doc["traces"].as_array().expect("traces is a list");
    traces
        .iter()
        .map(|entry| {
            let project = entry["project"].as_str().expect("project");
            let mut ctx: TraceContext =
                serde_json::from_value(doc["contexts"][project].clone()).expect("context");
            ctx.project_id = format!("{ns}{}", ctx.project_id);
            ctx.domain_id = ctx.domain_id.map(|d| format!("{ns}{d}"));
            ctx.domain_name = ctx.domain_name.map(|d| format!("{ns}{d}"));
            let mut t = entry["trace"].clone();
            prefix(&mut t["trace_id"], ns);
            let time = t["time"].as_str().expect("time as ISO text").to_owned();
            t["time"] = Value::from(epoch_ms(&time));
            if t.get("user").is_some_and(Value::is_object) {
                prefix(&mut t["user"]["domain"]["id"], ns);
                prefix(&mut t["user"]["domain"]["name"], ns);
                if let Some(real) = t["user"].get_mut("assumedBy") {
                    prefix(&mut real["user"]["domain"]["id"], ns);
                    prefix(&mut real["user"]["domain"]["name"], ns);
                }
            }
            TraceRecord::new(serde_json::from_value(t).expect("a CTS trace"), ctx)
        })
        .collect()
}

/// The unprefixed project ids of the fixture.
pub fn projects() -> Vec<String> {
    let doc: Value = serde_json::from_str(&read("traces.json")).expect("traces.json is JSON");
    doc["contexts"]
        .as_object()
        .expect("contexts")
        .keys()
        .cloned()
        .collect()
}

pub struct Neo4j {
    pub uri: String,
    pub user: String,
    pub password: String,
}

/// The server settings, or `None` (after saying why) when the test should skip.
/// NEO4J_URI's server, else a testcontainers Neo4j when a container engine answers
/// (`test_neo4j::server`).
pub fn neo4j(test: &str) -> Option<Neo4j> {
    let s = test_neo4j::server(test)?;
    Some(Neo4j {
        uri: s.uri,
        user: s.user,
        password: s.password,
    })
}

pub async fn writer(db: &Neo4j) -> GraphWriter {
    let config = GraphConfig::new(db.uri.clone(), db.user.clone(), db.password.clone());
    GraphWriter::connect(config)
        .await
        .expect("connect to Neo4j")
}

/// Loads the fixture once per process (on its own runtime, since every test
/// has its own) and returns the namespace.
pub fn loaded(db: &Neo4j) -> String {
    static LOADED: OnceLock<String> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let ns = namespace();
            let records = records(&ns);
            let (uri, user, password) = (db.uri.clone(), db.user.clone(), db.password.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let w = writer(&Neo4j {
                        uri,
                        user,
                        password,
                    })
                    .await;
                    w.ensure_schema().await.expect("schema");
                    let report = w.write(&records).await.expect("write the fixture");
                    assert!(
                        report.rejected.is_empty(),
                        "fixture traces rejected: {:?}",
                        report.rejected
                    );
                    assert_eq!(report.written, records.len());
                });
            })
            .join()
            .expect("loading the fixture panicked");
            ns
        })
        .clone()
}

/// Removes the namespace from every string of a value, so answers compare
/// with the expectations written without it.
pub fn strip(v: Value, ns: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(ns, "")),
        Value::Array(items) => Value::Array(items.into_iter().map(|x| strip(x, ns)).collect()),
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, x)| (k, strip(x, ns))).collect()),
        other => other,
    }
}

#[test]
fn fixture_times_convert_to_epoch_milliseconds() {
    assert_eq!(epoch_ms("1970-01-01T00:00:00Z"), 0);
    assert_eq!(epoch_ms("2024-06-03T09:00:00Z"), 1_717_405_200_000);
    assert_eq!(epoch_ms("2000-03-01T00:00:01Z"), 951_868_801_000);
}
