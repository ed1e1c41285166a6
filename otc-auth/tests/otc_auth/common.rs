//! Shared helpers: isolated load options, a settable clock, IAM response builders.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use otc_auth::{Clock, LoadOptions};
use serde_json::{json, Value};
use tempfile::TempDir;

/// A temporary tree with `cwd/`, `home/` and `etc/` and options pointing at it, empty environment.
pub struct Sandbox {
    pub dir: TempDir,
    pub opts: LoadOptions,
}

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["cwd", "home/.config/openstack", "etc"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        let mut opts = LoadOptions::new(dir.path().join("cwd"), dir.path().join("etc"));
        opts.home = Some(dir.path().join("home"));
        Self { dir, opts }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` to `rel` (relative to the sandbox root) and returns the full path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }

    pub fn copy_fixture(&self, fixture: &str, rel: &str) -> PathBuf {
        self.write(
            rel,
            &std::fs::read_to_string(fixture_path(fixture)).expect("fixture"),
        )
    }

    pub fn env(&mut self, k: &str, v: &str) -> &mut Self {
        self.opts.env.insert(k.to_owned(), v.to_owned());
        self
    }
}

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A clock tests can move.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn at(t: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(Mutex::new(t)))
    }
    pub fn advance(&self, d: Duration) {
        let mut g = self.0.lock().expect("clock lock");
        *g += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0)
        .single()
        .expect("time")
}

pub const PROJECT_ID: &str = "0391e4486e864c26be5654c522f440f2";
pub const DOMAIN_ID: &str = "d0000000000000000000000000000001";

/// A catalog with cts (v1.0), ctsv2 and identity entries pointing at `base`.
pub fn catalog(base: &str) -> Value {
    json!([
        {"type":"identity","name":"keystone","endpoints":[
            {"interface":"public","region":"*","region_id":"*","url":format!("{base}/v3")}]},
        {"type":"cts","name":"cts","endpoints":[
            {"interface":"public","region":"eu-nl","region_id":"eu-nl","url":"https://cts.eu-nl.example/v1.0/x"},
            {"interface":"public","region":"eu-de","region_id":"eu-de","url":format!("{base}/v1.0/{PROJECT_ID}")}]},
        {"type":"ctsv2","name":"ctsv2","endpoints":[
            {"interface":"public","region_id":"eu-de","url":format!("{base}/v2.0/$(tenant_id)s")}]}
    ])
}

/// A Keystone token body expiring at `expires_at`.
pub fn token_body(base: &str, expires_at: DateTime<Utc>) -> Value {
    json!({"token":{
        "methods":["password"],
        "expires_at": expires_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "issued_at": (expires_at - Duration::hours(24)).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        "user":{"id":"u1","name":"alice","domain":{"id":DOMAIN_ID,"name":"OTC00000000001000000001"}},
        "project":{"id":PROJECT_ID,"name":"eu-de_analytics","domain":{"id":DOMAIN_ID,"name":"OTC00000000001000000001"}},
        "roles":[{"id":"r","name":"te_admin"}],
        "catalog": catalog(base)
    }})
}
