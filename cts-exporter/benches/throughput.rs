//! Throughput and memory of the exporter binary (docs/performance.md).
//!
//! `cargo bench -p cts-exporter --bench throughput` runs both parts:
//!
//! - **poll**: the emulator holds `BENCH_POLL_TRACES` (default 200,000) traces
//!   of the last two hours; the exporter (release build) starts with
//!   `CTS_FROM=180` and sends them all to a minimal receiver that answers 202.
//!   Reported: events/s between the first and the last event at the receiver.
//! - **backfill**: the emulator writes `BENCH_BACKFILL_TRACES` (default
//!   1,000,000) traces as gzip archive files; `cts-exporter backfill
//!   --archive-dir` sends them to the same receiver while the exporter's RSS
//!   is sampled from /proc every 50 ms. Reported: peak RSS and events/s.
//!
//! `BENCH_PART=poll` or `BENCH_PART=backfill` runs one part only.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use cts_emulator::{ArchiveOptions, AuthKind, Emulator, EmulatorConfig};

const BIN: &str = env!("CARGO_BIN_EXE_cts-exporter");

#[derive(Default)]
struct Counter {
    n: AtomicU64,
    ids: Mutex<std::collections::HashSet<String>>,
    first: Mutex<Option<Instant>>,
    last: Mutex<Option<Instant>>,
}

async fn accept(State(c): State<Arc<Counter>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let now = Instant::now();
    // Binary mode: the id is in `ce-id`, the body is the trace.
    let id = headers
        .get("ce-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    drop(body);
    c.ids.lock().expect("lock").insert(id);
    if c.n.fetch_add(1, Ordering::Relaxed) == 0 {
        *c.first.lock().expect("lock") = Some(now);
    }
    *c.last.lock().expect("lock") = Some(now);
    StatusCode::ACCEPTED
}

async fn receiver() -> (SocketAddr, Arc<Counter>) {
    let counter = Arc::new(Counter::default());
    let app = Router::new()
        .route("/", post(accept))
        .with_state(Arc::clone(&counter));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, counter)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Run {
    events: u64,
    distinct: usize,
    rate: f64,
    wall: Duration,
    peak_rss_kib: u64,
}

/// Runs the exporter until `expected` events arrived (or it exits), sampling its RSS.
async fn run_exporter(
    args: &[&str],
    env: &[(&str, String)],
    counter: &Counter,
    expected: u64,
) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start exporter");
    let mut peak = 0;
    loop {
        if let Some(r) = rss_kib(child.id()) {
            peak = peak.max(r);
        }
        if counter.n.load(Ordering::Relaxed) >= expected {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            eprintln!("exporter exited: {status}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let wall = start.elapsed();
    // A short pause shows any event sent twice after the last expected one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let events = counter.n.load(Ordering::Relaxed);
    let first = counter.first.lock().expect("lock").unwrap_or(start);
    let last = counter.last.lock().expect("lock").unwrap_or(start);
    let span = (last - first).as_secs_f64().max(1e-6);
    let distinct = counter.ids.lock().expect("lock").len();
    Run {
        events,
        distinct,
        rate: events.saturating_sub(1) as f64 / span,
        wall,
        peak_rss_kib: peak,
    }
}

async fn world(traces: usize, span: Duration) -> (Emulator, tempfile::TempDir) {
    let t = Instant::now();
    let cfg = EmulatorConfig {
        history_count: traces,
        history_span: span,
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator");
    eprintln!(
        "emulator: {traces} traces generated in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("clouds.yaml"),
        emu.clouds_yaml(AuthKind::Password),
    )
    .expect("clouds.yaml");
    (emu, dir)
}

fn base_env(
    emu: &Emulator,
    dir: &tempfile::TempDir,
    sink: SocketAddr,
) -> Vec<(&'static str, String)> {
    vec![
        (
            "OS_CLIENT_CONFIG_FILE",
            dir.path().join("clouds.yaml").display().to_string(),
        ),
        ("HOME", dir.path().display().to_string()),
        ("OS_CLOUD", emu.projects()[0].name.clone()),
        ("K_SINK", format!("http://{sink}/")),
        (
            "K_OIDC_TOKEN_FILE",
            dir.path().join("none").display().to_string(),
        ),
        ("CTS_METRICS_ADDR", "off".into()),
        (
            "CTS_DELIVERY_CONCURRENCY",
            std::env::var("BENCH_CONCURRENCY").unwrap_or_else(|_| "64".into()),
        ),
        ("RUST_LOG", "warn".into()),
    ]
}

async fn poll_part() {
    let traces = env_usize("BENCH_POLL_TRACES", 200_000);
    let (emu, dir) = world(traces, Duration::from_secs(7200)).await;
    let (sink, counter) = receiver().await;
    let mut env = base_env(&emu, &dir, sink);
    env.push(("CTS_FROM", "180".into()));
    let r = run_exporter(&[], &env, &counter, traces as u64).await;
    println!(
        "poll: {} requests for {} distinct of {traces} traces, {:.0} events/s (first to last event), {:.1}s wall from process start, peak RSS {:.1} MiB",
        r.events,
        r.distinct,
        r.rate,
        r.wall.as_secs_f64(),
        r.peak_rss_kib as f64 / 1024.0
    );
    emu.shutdown().await;
}

async fn backfill_part() {
    let traces = env_usize("BENCH_BACKFILL_TRACES", 1_000_000);
    let (emu, dir) = world(traces, Duration::from_secs(6 * 86_400)).await;
    let archive = dir.path().join("bucket");
    let t = Instant::now();
    let written = emu
        .write_archives(&archive, &ArchiveOptions::default())
        .expect("archives");
    let bytes: u64 = written
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "archives: {} traces in {} files ({:.0} MiB gzip) written in {:.1}s",
        written.trace_count,
        written.files.len(),
        bytes as f64 / 1_048_576.0,
        t.elapsed().as_secs_f64()
    );
    let (sink, counter) = receiver().await;
    let env = base_env(&emu, &dir, sink);
    let args = [
        "backfill",
        "--archive-dir",
        archive.to_str().expect("utf-8"),
        "--progress-secs",
        "10",
    ];
    let r = run_exporter(&args, &env, &counter, written.trace_count as u64).await;
    println!(
        "backfill: {} requests for {} distinct of {} archived traces, {:.0} events/s, {:.1}s wall, peak RSS {:.1} MiB",
        r.events,
        r.distinct,
        written.trace_count,
        r.rate,
        r.wall.as_secs_f64(),
        r.peak_rss_kib as f64 / 1024.0
    );
    emu.shutdown().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    rt.block_on(async {
        if part.is_empty() || part == "poll" {
            poll_part().await;
        }
        if part.is_empty() || part == "backfill" {
            backfill_part().await;
        }
    });
}
