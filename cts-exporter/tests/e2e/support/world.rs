//! One test's world: a running emulator, a temporary directory with its
//! clouds.yaml, and the environment the exporter needs to find it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cts_client::{CtsClient, Trace, TraceQuery};
use cts_emulator::{AuthKind, Emulator, EmulatorConfig};
use futures::TryStreamExt;
use otc_auth::{load_cloud, AuthProvider, LoadOptions};

pub struct World {
    pub emu: Emulator,
    pub dir: tempfile::TempDir,
    pub auth: AuthKind,
}

impl World {
    pub async fn start(cfg: EmulatorConfig, auth: AuthKind) -> World {
        let emu = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("emulator starts");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("clouds.yaml"), emu.clouds_yaml(auth))
            .expect("write clouds.yaml");
        World { emu, dir, auth }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cwd(&self) -> &Path {
        self.dir.path()
    }

    /// The first project's name (also its cloud name) and id.
    pub fn project(&self) -> (String, String) {
        let p = &self.emu.projects()[0];
        (p.name.clone(), p.id.clone())
    }

    /// Environment for an exporter polling the first project into `sink`.
    pub fn env(&self, sink: &str) -> Vec<(String, String)> {
        let (cloud, _) = self.project();
        let pairs = [
            (
                "OS_CLIENT_CONFIG_FILE",
                self.path("clouds.yaml").display().to_string(),
            ),
            ("HOME", self.cwd().display().to_string()),
            ("OS_CLOUD", cloud),
            ("K_SINK", sink.to_string()),
            (
                "K_OIDC_TOKEN_FILE",
                self.path("no-oidc-token").display().to_string(),
            ),
            ("CTS_METRICS_ADDR", "127.0.0.1:0".to_string()),
            ("CTS_RETRY_INITIAL_MS", "50".to_string()),
            ("CTS_RETRY_MAX_MS", "500".to_string()),
            ("CTS_SHUTDOWN_GRACE_SECS", "3".to_string()),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Every visible trace of the first project, by id, read through cts-client.
    pub async fn all_traces(&self) -> HashMap<String, Trace> {
        let (cloud, _) = self.project();
        self.all_traces_of(&cloud).await
    }

    /// Every visible trace of the project named `cloud`, by id, read through cts-client.
    pub async fn all_traces_of(&self, cloud: &str) -> HashMap<String, Trace> {
        let mut opts = LoadOptions::new(self.cwd(), self.cwd());
        opts.env.insert(
            "OS_CLIENT_CONFIG_FILE".into(),
            self.path("clouds.yaml").display().to_string(),
        );
        let cfg = load_cloud(&opts, Some(cloud)).expect("cloud");
        let provider = Arc::new(AuthProvider::new(cfg).expect("provider"));
        let client = CtsClient::builder_from_provider(provider)
            .await
            .expect("endpoint")
            .build()
            .expect("client");
        let now = chrono::Utc::now().timestamp_millis();
        let q = TraceQuery::new()
            .window_ms(now - 7 * 86_400_000 + 120_000, now + 3_600_000)
            .limit(200);
        let traces: Vec<Trace> = client.traces(q).try_collect().await.expect("list traces");
        traces
            .into_iter()
            .filter_map(|t| Some((t.trace_id.clone()?, t)))
            .collect()
    }
}

/// An emulator with `n` traces spread over the last `span`, no live feed.
pub fn history(n: usize, span: Duration) -> EmulatorConfig {
    EmulatorConfig {
        history_count: n,
        history_span: span,
        ..EmulatorConfig::default()
    }
}

pub fn env_with(mut env: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        env.retain(|(ek, _)| ek != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

pub fn without(mut env: Vec<(String, String)>, keys: &[&str]) -> Vec<(String, String)> {
    env.retain(|(k, _)| !keys.contains(&k.as_str()));
    env
}
