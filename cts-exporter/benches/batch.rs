//! Single events against CloudEvents batches, into the real neo4j-sink and a real Neo4j
//! (docs/performance.md, "Batch mode").
//!
//! ```sh
//! NEO4J_URI=bolt://127.0.0.1:7720 NEO4J_USER=neo4j NEO4J_PASSWORD=... \
//!   cargo bench -p cts-exporter --bench batch
//! ```
//!
//! For each of `BENCH_ROUNDS` (3) rounds and each mode (single events in binary mode, then
//! `CTS_CE_BATCH=true` with `BENCH_BATCH_EVENTS`, default 100): an emulator with `BENCH_TRACES` (20,000)
//! traces of the last hour and a seed of its own (every trace is new to Neo4j), the real neo4j-sink in
//! this process on a socket, and the release exporter polling with `CTS_FROM=120` until its
//! `cts_exporter_events_acked_total` reaches every trace (the sink acknowledges only after the Neo4j
//! commit). Reported: events/s over the exporter's wall time, and the exporter's CPU time (user + system,
//! from `/proc/<pid>/stat`) per event, which the other processes on the machine disturb far less.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{CommandFactory, FromArgMatches};
use cts_emulator::{AuthKind, Emulator, EmulatorConfig};

const BIN: &str = env!("CARGO_BIN_EXE_cts-exporter");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// utime + stime of `pid` in seconds (fields 14 and 15 of /proc/<pid>/stat, in clock ticks of 1/100 s).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

async fn start_sink(
    uri: &str,
    user: &str,
    password: &str,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let args = [
        "neo4j-sink".to_string(),
        format!("--neo4j-uri={uri}"),
        format!("--neo4j-user={user}"),
        format!("--neo4j-password={password}"),
        "--log-format=text".into(),
        "--log-level=warn".into(),
    ];
    let cmd = neo4j_sink::RawArgs::command().mut_args(|a| a.env(None));
    let settings =
        neo4j_sink::RawArgs::from_arg_matches(&cmd.try_get_matches_from(args).expect("flags"))
            .expect("args")
            .validate()
            .expect("settings");
    let store = Arc::new(neo4j_sink::graph_store::GraphStore::new(
        &settings.neo4j,
        settings.batch.max_events,
    ));
    let sink = neo4j_sink::Sink::start(&settings, store)
        .await
        .expect("sink starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sink.serve(listener, async move {
        let _ = stopped.await;
    }));
    for _ in 0..1200 {
        if reqwest::get(format!("{url}readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return (url, stop);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("neo4j-sink not ready within 120 s");
}

fn acked(metrics: &str) -> f64 {
    const NAME: &str = "cts_exporter_events_acked_total";
    metrics
        .lines()
        .filter(|l| l.starts_with(NAME) && l[NAME.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

struct Run {
    wall: Duration,
    cpu: f64,
}

async fn run(sink: &str, traces: usize, batch: Option<usize>) -> Run {
    let cfg = EmulatorConfig {
        history_count: traces,
        history_span: Duration::from_secs(3600),
        seed: rand::random(),
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("clouds.yaml"),
        emu.clouds_yaml(AuthKind::Password),
    )
    .expect("clouds.yaml");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OS_CLIENT_CONFIG_FILE", dir.path().join("clouds.yaml"))
        .env("HOME", dir.path())
        .env("OS_CLOUD", &emu.projects()[0].name)
        .env("K_SINK", sink)
        .env("K_OIDC_TOKEN_FILE", dir.path().join("none"))
        .env("CTS_METRICS_ADDR", format!("127.0.0.1:{port}"))
        .env("CTS_FROM", "120")
        .env("RUST_LOG", "warn");
    if let Some(n) = batch {
        cmd.env("CTS_CE_BATCH", "true")
            .env("CTS_CE_BATCH_MAX_EVENTS", n.to_string());
    }
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start exporter");
    let pid = child.id();
    let metrics_url = format!("http://127.0.0.1:{port}/metrics");
    let mut cpu = 0.0;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the exporter exited: {status}");
        }
        cpu = cpu_secs(pid).unwrap_or(cpu);
        let done = match reqwest::get(&metrics_url).await {
            Ok(r) => r.text().await.map(|t| acked(&t)).unwrap_or(0.0),
            Err(_) => 0.0,
        };
        if done >= traces as f64 {
            cpu = cpu_secs(pid).unwrap_or(cpu);
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "not done in 10 minutes: {done} acked"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = start.elapsed();
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    emu.shutdown().await;
    Run { wall, cpu }
}

fn main() {
    let uri = std::env::var("NEO4J_URI").expect("set NEO4J_URI (and NEO4J_USER, NEO4J_PASSWORD)");
    let user = std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let password = std::env::var("NEO4J_PASSWORD").unwrap_or_default();
    let traces = env_usize("BENCH_TRACES", 20_000);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    let batch_events = env_usize("BENCH_BATCH_EVENTS", 100);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (sink, _stop) = start_sink(&uri, &user, &password).await;
        for round in 1..=rounds {
            for batch in [None, Some(batch_events)] {
                let r = run(&sink, traces, batch).await;
                let mode = match batch {
                    None => "single events (binary)".to_string(),
                    Some(n) => format!("batches of up to {n}"),
                };
                println!(
                    "round {round}, {mode}: {traces} traces acknowledged in {:.1}s = {:.0} events/s; exporter CPU {:.2}s = {:.0} µs/event",
                    r.wall.as_secs_f64(),
                    traces as f64 / r.wall.as_secs_f64(),
                    r.cpu,
                    r.cpu * 1e6 / traces as f64
                );
            }
        }
    });
}
