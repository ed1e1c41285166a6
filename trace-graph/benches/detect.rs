//! Cost of one detection run (docs/detections.md, "Cost"): every rule of
//! `trace_graph::detect` over 10,000 newly stored actions in a graph that
//! already holds 1,000,000, against a Neo4j of its own.
//!
//! ```text
//! NEO4J_LOCAL_PORT=7760 NEO4J_LOCAL_DIR=.local/neo4j-7760 NEO4J_LOCAL_TLS=0 scripts/neo4j-local start
//! DETECT_BENCH_URI=bolt://127.0.0.1:7760 NEO4J_PASSWORD=cloudtrace-local \
//!     cargo bench -p trace-graph --bench detect
//! ```
//!
//! The history (`DETECT_BENCH_HISTORY`, default 1,000,000 actions of 4 projects
//! and 40 users over 30 days, from the `cts-emulator` generator) is loaded once
//! through the real `GraphWriter` and reused by later runs (it lives in
//! projects `detbench-p0..3`). Each run then stores `DETECT_BENCH_NEW` (10,000)
//! new actions after the history, every emulator scenario among them, takes
//! the position before them, and times `DETECT_BENCH_RUNS` (3) detection runs
//! over them: each rule's query (`evaluate`) and the storing of its findings
//! (`record`). It prints the time per rule and in total, and the CPU seconds the
//! Neo4j server spent (from /proc/<pid>/stat; `DETECT_BENCH_NEO4J_PID`, else
//! the PID file in `NEO4J_LOCAL_DIR`, default `.local/neo4j-7760`).
//! It refuses port 7687 (the shared development server) unless `DETECT_BENCH_ANY=1`.

use cts_emulator::generator::{Generator, Scenario, TenantSpec};
use rand::SeedableRng;
use std::time::Instant;
use trace_graph::detect::{self, RuleSettings, RULES};
use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};

const PROJECTS: usize = 4;
const DAY: i64 = 86_400_000;

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn number(name: &str, default: u64) -> u64 {
    let v = setting(name, &default.to_string());
    v.trim().replace('_', "").parse().unwrap_or_else(|_| {
        eprintln!("{name}={v:?} is not a whole number");
        std::process::exit(2)
    })
}

/// User + system CPU seconds of a process.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn neo4j_pid() -> Option<u32> {
    if let Ok(p) = std::env::var("DETECT_BENCH_NEO4J_PID") {
        return p.trim().parse().ok();
    }
    let dir = setting("NEO4J_LOCAL_DIR", ".local/neo4j-7760");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in ["neo4j.pid", "pid"] {
        let path = root.join(&dir).join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(pid) = text.trim().parse() {
                return Some(pid);
            }
        }
    }
    None
}

fn context(p: usize) -> TraceContext {
    let mut ctx = TraceContext::new(format!("detbench-p{p}"), "eu-de");
    ctx.domain_id = Some("detbench-domain".to_owned());
    ctx
}

fn record(v: serde_json::Value, p: usize) -> TraceRecord {
    let trace: cts_client::Trace = serde_json::from_value(v).expect("generated trace");
    TraceRecord::new(trace, context(p))
}

async fn count(writer_graph: &neo4rs::Graph) -> i64 {
    let mut rows = writer_graph
        // The bench's own server: every action is a bench action (a count-store lookup).
        .execute(neo4rs::query("MATCH (a:Action) RETURN count(a) AS n"))
        .await
        .expect("count");
    rows.next()
        .await
        .expect("row")
        .and_then(|r| r.get::<i64>("n").ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let uri = setting("DETECT_BENCH_URI", "bolt://127.0.0.1:7760");
    if uri.ends_with(":7687") && setting("DETECT_BENCH_ANY", "0") != "1" {
        eprintln!("DETECT_BENCH_URI={uri} is the shared development server; use a Neo4j of your own (see the file's doc) or DETECT_BENCH_ANY=1");
        std::process::exit(2);
    }
    let history = number("DETECT_BENCH_HISTORY", 1_000_000) as i64;
    let new = number("DETECT_BENCH_NEW", 10_000) as i64;
    let runs = number("DETECT_BENCH_RUNS", 3).max(1);
    let user = setting("NEO4J_USER", "neo4j");
    let password = setting("NEO4J_PASSWORD", "cloudtrace-local");
    let mut config = GraphConfig::new(uri.clone(), user.clone(), password.clone());
    config.batch_size = 2000;
    let writer = GraphWriter::connect(config).await.expect("connect");
    writer.ensure_schema().await.expect("schema");
    let graph = neo4rs::Graph::new(uri.as_str(), user.as_str(), password.as_str()).expect("graph");

    // History, loaded once.
    let end = 1_780_000_000_000i64; // 2026-05-28: fixed, so reruns extend the same story
    let start = end - 30 * DAY;
    let have = count(&graph).await;
    if have < history {
        println!(
            "loading {} history actions (have {have}) ...",
            history - have
        );
        let t = Instant::now();
        let mut gens: Vec<Generator> = (0..PROJECTS)
            .map(|p| {
                Generator::new(
                    7,
                    TenantSpec::new("OTC-detbench", format!("eu-de_p{p}"), 40),
                )
            })
            .collect();
        let per = history / PROJECTS as i64;
        let step = (30 * DAY) / per;
        let mut batch = Vec::with_capacity(20_000);
        let mut done = 0i64;
        for i in 0..per {
            for (p, g) in gens.iter_mut().enumerate() {
                batch.push(record(g.next_trace(start + i * step + p as i64), p));
            }
            if batch.len() >= 20_000 || i == per - 1 {
                let report = writer.write(&batch).await.expect("write history");
                done += report.written as i64;
                batch.clear();
                if done % 200_000 < 20_000 {
                    println!(
                        "  {done} written, {:.0} traces/s",
                        done as f64 / t.elapsed().as_secs_f64()
                    );
                }
            }
        }
        println!("history loaded in {:.0} s", t.elapsed().as_secs_f64());
    } else {
        println!("history: {have} actions already loaded");
    }

    // The new actions: after the history, fresh ids, every scenario among them.
    let position = detect::db_now_ms(&writer).await.expect("now") + 1;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mut batch = Vec::new();
    let g = Generator::new(seed, TenantSpec::new("OTC-detbench", "eu-de_p0", 40));
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let now = end + 7 * 3_600_000;
    for (k, s) in Scenario::ALL.iter().enumerate() {
        let p = s.project_index();
        for v in g.scenario_traces(*s, end + k as i64 * 600_000, now, &mut rng) {
            batch.push(record(v, p));
        }
    }
    let step = 7 * 3_600_000 / new;
    let mut gens: Vec<Generator> = (0..PROJECTS)
        .map(|p| {
            Generator::new(
                seed,
                TenantSpec::new("OTC-detbench", format!("eu-de_p{p}"), 40),
            )
        })
        .collect();
    let mut i = 0i64;
    while (batch.len() as i64) < new {
        let p = (i as usize) % PROJECTS;
        batch.push(record(gens[p].next_trace(end + i * step), p));
        i += 1;
    }
    let report = writer.write(&batch).await.expect("write new");
    let total = count(&graph).await;
    println!(
        "stored {} new actions (graph: {total} bench actions); position before them",
        report.written
    );

    let projects: Vec<String> = Vec::new(); // every project: the cost of a real deployment
    let settings = RuleSettings::default();
    let pid = neo4j_pid();
    let detector = format!("detbench-{seed}");
    let mut totals = Vec::new();
    let mut per_rule: Vec<(String, Vec<f64>, usize, usize)> = RULES
        .iter()
        .map(|r| (r.name.to_owned(), Vec::new(), 0, 0))
        .collect();
    for run in 1..=runs {
        let cpu0 = pid.and_then(cpu_secs);
        let t = Instant::now();
        for (rule, row) in RULES.iter().zip(per_rule.iter_mut()) {
            let r0 = Instant::now();
            let found = detect::evaluate(&writer, rule, &settings, position, &projects)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", rule.name));
            let created = detect::record(&writer, &detector, rule, &found)
                .await
                .expect("record");
            row.1.push(r0.elapsed().as_secs_f64());
            row.2 = found.len();
            row.3 += created;
        }
        let wall = t.elapsed().as_secs_f64();
        let cpu = match (cpu0, pid.and_then(cpu_secs)) {
            (Some(a), Some(b)) => format!("{:.2} s Neo4j CPU", b - a),
            _ => "Neo4j CPU unknown (no PID)".to_owned(),
        };
        println!("run {run}: {wall:.2} s wall, {cpu}");
        totals.push(wall);
    }
    println!(
        "\n{:<30} {:>10} {:>22} {:>9}",
        "rule", "findings", "seconds (run 1; min-max)", "new"
    );
    for (name, secs, found, created) in &per_rule {
        let min = secs.iter().cloned().fold(f64::MAX, f64::min);
        let max = secs.iter().cloned().fold(0.0, f64::max);
        println!(
            "{name:<30} {found:>10} {:>9.3} ({min:.3}-{max:.3}) {created:>9}",
            secs[0]
        );
    }
    let min = totals.iter().cloned().fold(f64::MAX, f64::min);
    let max = totals.iter().cloned().fold(0.0, f64::max);
    println!(
        "\none run over {} new of {total} stored actions, {} rules: {:.2} s (run 1), {min:.2}-{max:.2} s over {runs} runs (target: under 5 s)",
        report.written,
        RULES.len(),
        totals[0]
    );
    let _ = graph
        .run(
            neo4rs::query("MATCH (n) WHERE (n:Finding AND n.detector = $d) DETACH DELETE n")
                .param("d", detector),
        )
        .await;
}
