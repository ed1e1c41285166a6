//! HTTP load against the real sink binary and the local Neo4j.
//!
//! `cargo bench -p neo4j-sink --bench load` starts the release `neo4j-sink`
//! binary on a free loopback port, waits until it is ready, then sends
//! binary-mode CloudEvents (one trace per request, as Knative delivers them)
//! from `LOAD_CONCURRENCY` (64) workers: first for `LOAD_WARMUP_SECS` (30)
//! without counting (Neo4j compiles its queries and its JVM warms up: on a
//! freshly started server the first 40 000 events run at a third of the
//! steady rate), then until `LOAD_EVENTS` (40 000) events were acknowledged or
//! `LOAD_MAX_SECS` (120) passed. It reports events/s
//! acknowledged (202), latency percentiles and the sink's peak RSS, then
//! deletes the traces it wrote. Skips without NEO4J_URI.
//!
//! With the Neo4j server's PID (`LOAD_NEO4J_PID`, or the PID file of
//! `scripts/neo4j-local` in `NEO4J_LOCAL_DIR`) it also reports the CPU time
//! per event of the sink, the load generator and Neo4j, and the rate that
//! budget allows when every core is busy.
//!
//! Sink settings (BATCH_MAX_EVENTS, BATCH_MAX_DELAY_MS, WRITE_CONCURRENCY,
//! ...) are passed through from the environment.

use neo4rs::{query, Graph};
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_neo4j-sink");

fn var(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system CPU time of a process, in seconds (clock ticks of 1/100 s).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn trace(run: &str, n: usize) -> Value {
    json!({
        "trace_id": format!("{run}-{n}"),
        "trace_name": "deleteEip",
        "trace_rating": if n % 10 == 0 { "warning" } else { "normal" },
        "trace_type": "ConsoleAction",
        "request": "{\"publicip\":{\"id\":\"d502809d\"}}",
        "response": {"code": "VPC.0514", "message": "Update port fail."},
        "code": "200",
        "api_version": "2.0",
        "record_time": 1_700_000_000_123_i64 + n as i64,
        "time": 1_700_000_000_000_i64 + n as i64,
        "user": {"id": format!("u-{}", n % 50), "name": format!("user-{}", n % 50),
                 "domain": {"id": format!("dom-{run}"), "name": "bench"}},
        "service_type": "VPC",
        "resource_type": "eip",
        "resource_name": format!("eip-{}", n % 500),
        "resource_id": format!("res-{}", n % 500),
        "source_ip": format!("10.0.{}.{}", n % 7, n % 200),
        "request_id": format!("req-{n}"),
    })
}

struct Stop(Child);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// The Neo4j server's process, to count its CPU time: `LOAD_NEO4J_PID`, else
/// the PID file of `scripts/neo4j-local` in `NEO4J_LOCAL_DIR` (default
/// `.local/neo4j` of the repository). `None` when neither names a live process.
fn neo4j_pid() -> Option<u32> {
    let from_file = || {
        let dir = std::env::var("NEO4J_LOCAL_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.local/neo4j").to_owned());
        std::fs::read_to_string(format!("{dir}/neo4j.pid")).ok()
    };
    let pid: u32 = std::env::var("LOAD_NEO4J_PID")
        .ok()
        .or_else(from_file)?
        .trim()
        .parse()
        .ok()?;
    std::path::Path::new(&format!("/proc/{pid}"))
        .exists()
        .then_some(pid)
}

/// Sends the events `first..first + bodies.len()` from `concurrency` workers
/// until all are sent or `deadline` passes. Returns the latencies (µs), the
/// number acknowledged (202) and the other statuses (0: no answer).
async fn send(
    http: &reqwest::Client,
    base: &str,
    run: &str,
    concurrency: usize,
    first: usize,
    bodies: Arc<Vec<Vec<u8>>>,
    deadline: Instant,
) -> (Vec<u32>, u64, Vec<u16>) {
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicU64::new(0));
    let other = Arc::new(Mutex::new(Vec::<u16>::new()));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, base, bodies, next, acked, other, run) = (
            http.clone(),
            base.to_owned(),
            bodies.clone(),
            next.clone(),
            acked.clone(),
            other.clone(),
            run.to_owned(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= bodies.len() || Instant::now() > deadline {
                    return latencies;
                }
                let n = first + i;
                let t0 = Instant::now();
                let r = http
                    .post(&base)
                    .header("content-type", "application/json")
                    .header("ce-specversion", "1.0")
                    .header("ce-id", format!("{run}-{n}"))
                    .header(
                        "ce-source",
                        format!("https://cts.eu-de.otc.t-systems.com/v3/proj-{run}?tracker=system"),
                    )
                    .header("ce-type", "com.otc.cts.trace.vpc.deleteeip")
                    .header("ce-project", format!("proj-{run}"))
                    .header("ce-region", "eu-de")
                    .header("ce-domain", format!("dom-{run}"))
                    .body(bodies[i].clone())
                    .send()
                    .await;
                let status = r.map(|r| r.status().as_u16()).unwrap_or(0);
                latencies.push(t0.elapsed().as_micros() as u32);
                if status == 202 {
                    acked.fetch_add(1, Ordering::Relaxed);
                } else {
                    other.lock().expect("lock").push(status);
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    let others = other.lock().expect("lock").clone();
    (latencies, acked.load(Ordering::Relaxed), others)
}

#[tokio::main]
async fn main() {
    let Ok(uri) = std::env::var("NEO4J_URI") else {
        println!("load: skipped: NEO4J_URI not set (scripts/neo4j-local start; eval \"$(scripts/neo4j-local env)\")");
        return;
    };
    let user = std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let password = std::env::var("NEO4J_PASSWORD").unwrap_or_default();
    let concurrency = var("LOAD_CONCURRENCY", 64) as usize;
    let total = var("LOAD_EVENTS", 40_000) as usize;
    let max_secs = var("LOAD_MAX_SECS", 120);
    let run = format!("load{}", std::process::id());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port());
    let port = port.expect("a free port");
    let child = Command::new(BIN)
        .env("PORT", port.to_string())
        .env("LISTEN_ADDR", "127.0.0.1")
        .env(
            "LOG_LEVEL",
            std::env::var("LOG_LEVEL").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("start the sink binary");
    let sink = Stop(child);
    let pid = sink.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let ready_by = Instant::now() + Duration::from_secs(120);
    while !matches!(http.get(format!("{base}/readyz")).send().await, Ok(r) if r.status() == 200) {
        assert!(Instant::now() < ready_by, "the sink did not get ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let idle_rss = rss_kib(pid, "VmRSS:");
    // Warm-up: chunks of events (ids after the measured ones' range) until the time is up.
    let warmup = Duration::from_secs(var("LOAD_WARMUP_SECS", 30));
    let warmup_started = Instant::now();
    let mut first = 0;
    let mut warmup_acked = 0;
    while warmup_started.elapsed() < warmup {
        let chunk: Vec<Vec<u8>> = (first..first + 10_000)
            .map(|n| serde_json::to_vec(&trace(&run, n)).expect("json"))
            .collect();
        let (_, acked, _) = send(
            &http,
            &base,
            &run,
            concurrency,
            first,
            Arc::new(chunk),
            warmup_started + warmup,
        )
        .await;
        warmup_acked += acked;
        first += 10_000;
    }
    if !warmup.is_zero() {
        let secs = warmup_started.elapsed().as_secs_f64();
        println!(
            "neo4j-sink load: warm-up {warmup_acked} events in {secs:.1} s = {:.0} events/s (not counted)",
            warmup_acked as f64 / secs
        );
    }

    let cpu_before = cpu_secs(pid);
    let me = std::process::id();
    let neo4j_pid = neo4j_pid();
    let gen_cpu_before = cpu_secs(me);
    let neo4j_cpu_before = neo4j_pid.map(cpu_secs);

    // Pre-render the bodies so the generator spends its time on HTTP.
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (first..first + total)
            .map(|n| serde_json::to_vec(&trace(&run, n)).expect("json"))
            .collect(),
    );
    let peak_rss = Arc::new(AtomicU64::new(idle_rss));
    let deadline = Instant::now() + Duration::from_secs(max_secs);
    let started = Instant::now();
    let sampler = {
        let peak = peak_rss.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let (mut latencies, acked, others) =
        send(&http, &base, &run, concurrency, first, bodies, deadline).await;
    let elapsed = started.elapsed();
    sampler.abort();
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let hwm = rss_kib(pid, "VmHWM:");
    let sink_cpu = cpu_secs(pid) - cpu_before;
    let gen_cpu = cpu_secs(me) - gen_cpu_before;
    let neo4j_cpu = neo4j_pid
        .zip(neo4j_cpu_before)
        .map(|(p, before)| cpu_secs(p) - before);
    drop(sink);

    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len() - 1))
            .copied()
    };
    let ms = |v: Option<u32>| v.map(|u| f64::from(u) / 1000.0).unwrap_or(f64::NAN);
    let batch = |name: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    println!("neo4j-sink load: {concurrency} concurrent senders, binary mode, 1 event per request");
    println!(
        "  events acknowledged (202): {acked} in {:.2} s = {:.0} events/s",
        elapsed.as_secs_f64(),
        acked as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  non-202 answers: {} {:?}",
        others.len(),
        others.iter().take(5).collect::<Vec<_>>()
    );
    println!(
        "  latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(latencies.last().copied())
    );
    println!(
        "  sink RSS: idle {:.1} MiB, peak sampled {:.1} MiB, VmHWM {:.1} MiB",
        idle_rss as f64 / 1024.0,
        peak_rss.load(Ordering::Relaxed) as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!(
        "  sink CPU: {:.2} s over the run = {:.0} µs per acknowledged event",
        sink_cpu,
        sink_cpu * 1e6 / acked.max(1) as f64
    );
    let per_event = |secs: f64| secs * 1e6 / acked.max(1) as f64;
    match neo4j_cpu {
        Some(neo4j_cpu) => {
            let total = per_event(sink_cpu + gen_cpu + neo4j_cpu);
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            println!(
                "  CPU per acknowledged event: sink {:.0} µs + load generator {:.0} µs + Neo4j {:.0} µs = {total:.0} µs; \
                 {cores} cores fully busy would allow at most {:.0} events/s",
                per_event(sink_cpu),
                per_event(gen_cpu),
                per_event(neo4j_cpu),
                cores as f64 * 1e6 / total
            );
        }
        None => println!(
            "  load generator CPU: {:.0} µs per event (Neo4j's CPU: set LOAD_NEO4J_PID or NEO4J_LOCAL_DIR)",
            per_event(gen_cpu)
        ),
    }
    println!(
        "  transactions: {:.0}, mean batch {:.1} events, mean write {:.1} ms",
        batch("neo4j_sink_batch_size_count"),
        batch("neo4j_sink_batch_size_sum") / batch("neo4j_sink_batch_size_count"),
        1000.0 * batch("neo4j_sink_write_duration_seconds_sum")
            / batch("neo4j_sink_write_duration_seconds_count")
    );

    // Leave the shared database as it was.
    let graph = Graph::new(uri.as_str(), user.as_str(), password.as_str()).expect("graph");
    let cleanup = [
        "MATCH (a:Action) WHERE a.traceId STARTS WITH $run CALL (a) { DETACH DELETE a } IN TRANSACTIONS OF 5000 ROWS",
        "MATCH (t:Tenant {projectId: 'proj-' + $run}) OPTIONAL MATCH (r:Resource)-[:MEMBER_OF]->(t) DETACH DELETE r, t",
        "MATCH (d:Domain {id: 'dom-' + $run}) OPTIONAL MATCH (u:User)-[:BELONGS_TO]->(d) DETACH DELETE u, d",
    ];
    for statement in cleanup {
        if let Err(e) = graph.run(query(statement).param("run", run.as_str())).await {
            eprintln!("load: cleanup failed ({e}); the bench data has the prefix {run}");
        }
    }
}
