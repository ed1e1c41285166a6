//! Loads `tests/fixtures/*.json`: each file holds `about`, `context` and the raw `trace`.

use cts_client::Trace;
use serde_json::Value;
use std::path::PathBuf;
use trace_graph::TraceContext;

pub struct Fixture {
    pub name: String,
    pub about: String,
    pub context: TraceContext,
    pub trace_json: Value,
}

impl Fixture {
    pub fn trace(&self) -> Trace {
        serde_json::from_value(self.trace_json.clone())
            .unwrap_or_else(|e| panic!("fixture {} does not decode as a Trace: {e}", self.name))
    }
}

pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Every fixture, sorted by file name.
pub fn all() -> Vec<Fixture> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/fixtures exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected the fixture set, found {}",
        paths.len()
    );
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read fixture");
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            Fixture {
                name: p.file_stem().expect("stem").to_string_lossy().into_owned(),
                about: v["about"].as_str().unwrap_or_default().to_owned(),
                context: serde_json::from_value(v["context"].clone()).expect("context"),
                trace_json: v["trace"].clone(),
            }
        })
        .collect()
}

pub fn by_name(prefix: &str) -> Fixture {
    all()
        .into_iter()
        .find(|f| f.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("no fixture {prefix}"))
}
