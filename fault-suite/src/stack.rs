//! The processes of one run and how each is configured: the emulator (two
//! projects of one domain, in one region, sharing its users), two sinks on
//! the suite's Neo4j, two exporters with a state file each. Also what the
//! suite reads back from them: the emulator's start-up lines, the sinks'
//! `/readyz`, the exporters' watermarks and logs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::neo4j_local::Conn;
use crate::procs::{Managed, Spec};
use crate::profile::Profile;

/// Domain of the tenant; both projects and all users belong to it.
const DOMAIN: &str = "OTC00000000001000000666";
/// The two projects: same region, so they share the `Region` node too.
pub const PROJECTS: [&str; 2] = ["eu-de_faults", "eu-de_faultsb"];
/// Names of the exporters (and of their log, state and dead-letter files).
pub const EXPORTERS: [&str; 2] = ["exporter-a", "exporter-b"];
/// Names of the sinks.
pub const SINKS: [&str; 2] = ["sink-1", "sink-2"];

/// A project as the emulator announced it.
#[derive(Debug, Clone)]
pub struct Project {
    /// Name (= cloud name in the written clouds.yaml).
    pub name: String,
    /// Project id.
    pub id: String,
}

/// What the emulator printed at start.
#[derive(Debug, Clone)]
pub struct EmulatorInfo {
    /// Base URL.
    pub base_url: String,
    /// The projects, in `PROJECTS` order.
    pub projects: Vec<Project>,
}

/// The emulator process.
pub fn emulator(bin: &Path, run: &Path, p: &Profile) -> Managed {
    let mut spec = Spec::new(bin.join("cts-emulator"));
    let n = |x: &dyn ToString| x.to_string();
    spec.args = vec![
        "--port".into(),
        "0".into(),
        "--seed".into(),
        n(&p.seed),
        "--domain".into(),
        DOMAIN.into(),
        "--projects".into(),
        PROJECTS.join(","),
        "--users".into(),
        "40".into(),
        "--history".into(),
        n(&p.history_per_project),
        "--history-span-secs".into(),
        n(&p.history_span_secs),
        "--live-rate".into(),
        n(&p.live_rate),
        "--max-ingestion-delay-secs".into(),
        n(&p.max_ingestion_delay_secs),
        "--fault-500-share".into(),
        n(&p.fault_500_share),
        "--fault-429-share".into(),
        n(&p.fault_429_share),
        "--retry-after-secs".into(),
        "1".into(),
        "--clouds-yaml".into(),
        run.join("clouds.yaml").display().to_string(),
    ];
    Managed::new("emulator", spec, run)
}

/// Waits until the emulator has written its clouds.yaml and reads its
/// base URL and project ids from its output.
pub async fn emulator_info(emu: &mut Managed) -> anyhow::Result<EmulatorInfo> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(emu.log()).unwrap_or_default();
        if text.contains("clouds.yaml written") {
            return parse_emulator_output(&text);
        }
        if let Some(u) = emu.check() {
            bail!(
                "the emulator exited at start ({}); see {}",
                u.status,
                u.log.display()
            );
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "the emulator did not come up within 120 s; see {}",
                emu.log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn parse_emulator_output(text: &str) -> anyhow::Result<EmulatorInfo> {
    let base_url = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("base URL :"))
        .map(|s| s.trim().to_string())
        .context("no `base URL` line in the emulator's output")?;
    let mut projects = Vec::new();
    for name in PROJECTS {
        // `  project  : eu-de_faults (id 0123..., region eu-de) CTS ...`
        let id = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("project  :"))
            .find_map(|rest| {
                let rest = rest.trim().strip_prefix(name)?.trim_start();
                let id = rest.strip_prefix("(id ")?;
                id.split(',').next().map(str::to_string)
            })
            .with_context(|| {
                format!("no `project : {name} (id ...)` line in the emulator's output")
            })?;
        projects.push(Project {
            name: name.to_string(),
            id,
        });
    }
    Ok(EmulatorInfo { base_url, projects })
}

/// A free TCP port on 127.0.0.1 (free at the moment of asking).
pub fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr().context("reading a bound port")?.port())
}

/// A sink on `port`, writing to the suite's Neo4j.
pub fn sink(bin: &Path, run: &Path, name: &str, port: u16, neo4j: &Conn) -> Managed {
    let mut spec = Spec::new(bin.join("neo4j-sink"));
    spec.set("PORT", port.to_string());
    spec.set("LISTEN_ADDR", "127.0.0.1");
    spec.set("NEO4J_URI", neo4j.uri.clone());
    spec.set("NEO4J_USER", neo4j.user.clone());
    spec.set("NEO4J_PASSWORD", neo4j.password.clone());
    spec.set("LOG_FORMAT", "json");
    spec.set("LOG_LEVEL", "info");
    Managed::new(name, spec, run)
}

/// The URL a sink listens on.
pub fn sink_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

/// Waits until `GET /readyz` answers 200.
pub async fn wait_ready(
    http: &reqwest::Client,
    sink: &mut Managed,
    port: u16,
    bound: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        if let Ok(r) = http.get(&url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if let Some(u) = sink.check() {
            bail!(
                "{} exited at start ({}); see {}",
                u.name,
                u.status,
                u.log.display()
            );
        }
        if started.elapsed() > bound {
            bail!(
                "{} not ready after {} s; see {}",
                sink.name,
                bound.as_secs(),
                sink.log().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The state file of an exporter.
pub fn state_file(run: &Path, name: &str) -> PathBuf {
    run.join(format!("{name}.state.json"))
}

/// The dead-letter file of an exporter.
pub fn dead_letter_file(run: &Path, name: &str) -> PathBuf {
    run.join(format!("{name}.dead-letters.ndjson"))
}

/// An exporter for one project, sending to `sink_url`.
pub fn exporter(
    bin: &Path,
    run: &Path,
    name: &str,
    project: &Project,
    sink_url: &str,
    p: &Profile,
) -> Managed {
    let mut spec = Spec::new(bin.join("cts-exporter"));
    spec.set(
        "OS_CLIENT_CONFIG_FILE",
        run.join("clouds.yaml").display().to_string(),
    );
    spec.set("OS_CLOUD", project.name.clone());
    spec.set("K_SINK", sink_url);
    spec.set(
        "K_OIDC_TOKEN_FILE",
        run.join("no-oidc-token").display().to_string(),
    );
    spec.set("CTS_FROM", p.look_back_minutes().to_string());
    spec.set("CTS_POLL_INTERVAL_SECS", "2");
    // The lateness must cover the emulator's ingestion delay (both 180 s,
    // unless a negative control lowers it).
    spec.set("CTS_LATENESS_SECS", p.exporter_lateness_secs.to_string());
    spec.set(
        "CTS_STATE_FILE",
        state_file(run, name).display().to_string(),
    );
    spec.set(
        "CTS_DEAD_LETTER_FILE",
        dead_letter_file(run, name).display().to_string(),
    );
    // Exporter A keeps the default one-hour window, so its whole first window
    // is the history and a kill lands inside it (issue 13); exporter B
    // catches up in five-minute windows, so its watermark moves while it loads.
    let index = EXPORTERS.iter().position(|e| *e == name).unwrap_or(0);
    spec.set("CTS_MAX_WINDOW_SECS", p.max_window_secs[index].to_string());
    // Exporter B sends CloudEvents batches (up to 100 events, 200 ms), so a
    // kill can land with a whole batch in flight and the sinks are killed
    // while writing batches; A sends one event per request.
    spec.set("CTS_CE_BATCH", p.ce_batch[index].to_string());
    spec.set("CTS_METRICS_ADDR", "off");
    // cts-client logs each failed CTS attempt at debug: the suite counts them.
    spec.set("RUST_LOG", "info,cts_client::retry=debug");
    Managed::new(name, spec, run)
}

/// The watermark an exporter last saved (epoch ms), if it saved one.
pub fn saved_watermark(state: &Path) -> Option<i64> {
    let bytes = std::fs::read(state).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("pollers")?
        .as_object()?
        .values()
        .filter_map(|p| p.get("watermark_ms")?.as_i64())
        .min()
}

/// Lines of an exporter's logs recording a CTS answer 500 and 429.
pub fn cts_faults_seen(logs: &[PathBuf]) -> (usize, usize) {
    let (mut e500, mut e429) = (0, 0);
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for l in text.lines().filter(|l| l.contains("CTS request failed")) {
            if l.contains("CTS server error") {
                e500 += 1;
            } else if l.contains("CTS is throttling") {
                e429 += 1;
            }
        }
    }
    (e500, e429)
}

/// Whether an exporter's log says it resumed from its state file (and not
/// from `CTS_FROM` back, which is what it does when no earlier incarnation
/// got as far as saving its starting point).
pub fn resumed_from_state(log: &Path) -> bool {
    std::fs::read_to_string(log)
        .map(|t| t.contains("resuming from the state file"))
        .unwrap_or(false)
}

/// The lower edge (`from_ms`) of the first fresh start in an exporter's logs,
/// given in incarnation order: the point from which every trace is owed. The
/// first incarnation that logged saving its starting point fixes it; an
/// incarnation killed before that save sent nothing, and its successor's
/// fresh start counts instead. Logs of an exporter that does not save its
/// start (before issue 13) give their first fresh start, so a restart that
/// starts from a new lower edge shows up as missing traces.
pub fn first_lower_edge(logs: &[PathBuf]) -> Option<i64> {
    let mut first_fresh = None;
    for log in logs {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        for line in text.lines() {
            let saved = line.contains("starting point saved in the state file");
            let fresh = line.contains("no saved state; starting CTS_FROM back");
            if !(saved || fresh) {
                continue;
            }
            let Some(ms) = field_i64(line, "from_ms") else {
                continue;
            };
            if saved {
                return Some(ms);
            }
            first_fresh.get_or_insert(ms);
        }
    }
    first_fresh
}

fn field_i64(line: &str, key: &str) -> Option<i64> {
    line.split(&format!("{key}="))
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit() && c != '-')
        .next()?
        .parse()
        .ok()
}

/// `neo4j_sink_queue_depth` from a sink's `/metrics`: events received and
/// not yet committed and answered. `None` when the sink does not answer.
pub async fn sink_queue_depth(http: &reqwest::Client, port: u16) -> Option<f64> {
    let text = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("neo4j_sink_queue_depth "))
        .and_then(|v| v.trim().parse().ok())
}

/// Non-empty lines of a dead-letter file (0 when there is none).
pub fn dead_letters(file: &Path) -> usize {
    std::fs::read_to_string(file)
        .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_banner_gives_url_and_project_ids() {
        let text = "cts-emulator 0.1.0 listening\n  base URL : http://127.0.0.1:4321/\n  IAM URL  : http://127.0.0.1:4321/v3\n  domain   : D (id d1)\n  project  : eu-de_faults (id p1, region eu-de) CTS http://127.0.0.1:4321/v1.0/p1\n  project  : eu-de_faultsb (id p2, region eu-de) CTS http://127.0.0.1:4321/v1.0/p2\n  clouds.yaml written to /x\n";
        let info = parse_emulator_output(text).expect("parsed");
        assert_eq!(info.base_url, "http://127.0.0.1:4321/");
        let ids: Vec<&str> = info.projects.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            ["p1", "p2"],
            "eu-de_faults must not match eu-de_faultsb's line"
        );
        assert!(parse_emulator_output("  base URL : x\n").is_err());
    }

    #[test]
    fn the_lower_edge_is_the_first_saved_start_else_the_first_fresh_start() {
        let dir = std::env::temp_dir().join(format!("fault-suite-edge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let fresh = |ms: i64| {
            format!("2026-01-01T00:00:00Z  INFO cts_exporter::poller: no saved state; starting CTS_FROM back cloud=x source=http://e/ from_ms={ms}\n")
        };
        let saved = |ms: i64| {
            format!("2026-01-01T00:00:00Z  INFO cts_exporter::poller: starting point saved in the state file before sending anything cloud=x source=http://e/ from_ms={ms}\n")
        };
        let logs: Vec<PathBuf> = (1..=3).map(|n| dir.join(format!("e-{n}.log"))).collect();
        // Killed before its save, then a start that saved, then a resume.
        std::fs::write(&logs[0], fresh(100)).expect("write");
        std::fs::write(&logs[1], fresh(200) + &saved(200)).expect("write");
        std::fs::write(&logs[2], "resuming from the state file\n").expect("write");
        assert_eq!(first_lower_edge(&logs), Some(200));
        // An exporter that never saves its start: the first fresh start counts.
        std::fs::write(&logs[1], fresh(200)).expect("write");
        assert_eq!(first_lower_edge(&logs), Some(100));
        assert_eq!(first_lower_edge(&[dir.join("none.log")]), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn watermark_is_read_from_the_state_file() {
        let dir = std::env::temp_dir().join(format!("fault-suite-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("s.json");
        assert_eq!(saved_watermark(&f), None);
        std::fs::write(&f, r#"{"version":1,"pollers":{"http://x/projects/p/trackers/system":{"watermark_ms":1700000000123,"delivered":[]}}}"#).expect("write");
        assert_eq!(saved_watermark(&f), Some(1_700_000_000_123));
        std::fs::write(&f, "{not json").expect("write");
        assert_eq!(saved_watermark(&f), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
