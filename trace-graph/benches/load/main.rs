//! Load benchmark of the trace-graph writer against a real Neo4j.
//!
//! **It wipes the database it connects to** (every node and relationship),
//! then loads synthetic traces from the `cts-emulator` generator and prints:
//!
//! 1. the batched writer's rate (traces/s) per slice while the graph grows to
//!    `TG_BENCH_TOTAL` actions (default 1 000 000, slices of `TG_BENCH_SLICE`);
//! 2. the original Go sink's write pattern (one transaction per trace, a chain
//!    of eleven MERGEs, no constraints, labels prefixed `Orig`) on the same
//!    data, after its own namespace holds one slice of actions;
//! 3. a ceiling: one raw `UNWIND … CREATE` statement per batch of the same
//!    action rows (no MERGE, no relationships, no constraints).
//!
//! ```text
//! eval "$(scripts/neo4j-local env)"
//! cargo bench -p trace-graph --bench load
//! TG_BENCH_TOTAL=200000 TG_BENCH_BATCH=2000 cargo bench -p trace-graph --bench load
//! ```
//!
//! Settings (environment, or `--name=value` after `--`): `TG_BENCH_TOTAL`,
//! `TG_BENCH_SLICE` (100000), `TG_BENCH_BATCH` (1000), `TG_BENCH_CONCURRENCY`
//! (`GraphConfig::write_concurrency`, 2), `TG_BENCH_WRITERS`
//! (concurrent writer tasks, 1), `TG_BENCH_WARMUP` (traces written by the
//! writer and the ceiling, then wiped, before anything is measured, so the
//! JVM's JIT and the query plans are warm; 20000), `TG_BENCH_NEO4J_PID` (the
//! server's process, to report CPU time per trace; default: the PID file of
//! `scripts/neo4j-local` in `NEO4J_LOCAL_DIR`), `TG_BENCH_BASELINE` (original-pattern traces,
//! 300; 0 skips the original pattern), `TG_BENCH_BASELINE_SECS` (time budget for them, 60),
//! `TG_BENCH_SEED` (7), `TG_BENCH_ARCHIVE` (a directory of OBS-layout archive files: the
//! measured traces are read from it instead of generated, see `archive.rs`; scripts/bench-e2e
//! uses it to measure the writer on the traces of its end-to-end run),
//! `TG_BENCH_DROP_INDEXES` (comma-separated names of trace-graph's plain indexes
//! to drop for the run, e.g. `tg_action_name`, to measure what each costs).

mod archive;
mod original;

use cts_emulator::generator::{Generator, TenantSpec};
use neo4rs::{query, BoltList, BoltMap, BoltString, BoltType, Graph};
use serde_json::Value;
use std::time::{Duration, Instant};
use trace_graph::{map_trace, GraphConfig, GraphWriter, TraceContext, TraceRecord};

struct Opts {
    total: usize,
    slice: usize,
    batch: usize,
    writers: usize,
    concurrency: usize,
    warmup: usize,
    baseline: usize,
    baseline_secs: u64,
    seed: u64,
}

fn setting(name: &str, default: u64) -> u64 {
    let flag = format!("--{}=", name.trim_start_matches("TG_BENCH_").to_lowercase());
    let from_args = std::env::args().find_map(|a| a.strip_prefix(&flag).map(str::to_owned));
    match from_args.or_else(|| std::env::var(name).ok()) {
        None => default,
        Some(v) => v.trim().replace('_', "").parse().unwrap_or_else(|_| {
            eprintln!("{name}={v:?} is not a whole number; e.g. {name}={default}");
            std::process::exit(2)
        }),
    }
}

fn opts() -> Opts {
    let o = Opts {
        total: setting("TG_BENCH_TOTAL", 1_000_000) as usize,
        slice: setting("TG_BENCH_SLICE", 100_000) as usize,
        batch: setting("TG_BENCH_BATCH", 1000) as usize,
        writers: setting("TG_BENCH_WRITERS", 1).max(1) as usize,
        concurrency: setting("TG_BENCH_CONCURRENCY", 2) as usize,
        warmup: setting("TG_BENCH_WARMUP", 20_000) as usize,
        baseline: setting("TG_BENCH_BASELINE", 300) as usize,
        baseline_secs: setting("TG_BENCH_BASELINE_SECS", 60),
        seed: setting("TG_BENCH_SEED", 7),
    };
    if o.slice == 0 || o.total < o.slice {
        eprintln!("TG_BENCH_TOTAL must be at least TG_BENCH_SLICE (> 0)");
        std::process::exit(2);
    }
    o
}

/// Four projects of one domain, traces round-robin, 50 ms apart from 2024-01-01.
/// Or, with `TG_BENCH_ARCHIVE`, the traces of an archive.
struct Source {
    gens: Vec<(Generator, TraceContext)>,
    archive: Option<archive::Archive>,
    n: usize,
}

impl Source {
    fn new(seed: u64) -> Source {
        let projects = ["eu-de_app1", "eu-de_app2", "eu-nl_web", "eu-de_data"];
        let gens = projects
            .iter()
            .map(|p| {
                let g = Generator::new(seed, TenantSpec::new("OTC00000000001000000001", *p, 60));
                let ctx = TraceContext::new(g.project().id.clone(), g.project().region.clone())
                    .with_domain(g.domain().id.clone(), Some(g.domain().name.clone()));
                (g, ctx)
            })
            .collect();
        Source {
            gens,
            archive: None,
            n: 0,
        }
    }

    fn take(&mut self, count: usize) -> Vec<TraceRecord> {
        if let Some(a) = &mut self.archive {
            let records = a.take(count);
            self.n += records.len();
            return records;
        }
        (0..count)
            .map(|_| {
                let time = 1_704_067_200_000 + self.n as i64 * 50;
                let k = self.n % self.gens.len();
                self.n += 1;
                let (g, ctx) = &mut self.gens[k];
                let trace =
                    serde_json::from_value(g.next_trace(time)).expect("generator emits traces");
                TraceRecord::new(trace, ctx.clone())
            })
            .collect()
    }
}

fn bolt(v: &Value) -> BoltType {
    match v {
        Value::Null => BoltType::from(Option::<i64>::None),
        Value::Bool(b) => BoltType::from(*b),
        Value::Number(n) => BoltType::from(n.as_i64().unwrap_or_default()),
        Value::String(s) => BoltType::from(s.as_str()),
        Value::Array(a) => BoltType::List(BoltList::from(a.iter().map(bolt).collect::<Vec<_>>())),
        Value::Object(m) => {
            let mut out = BoltMap::with_capacity(m.len());
            for (k, v) in m.iter().filter(|(_, v)| !v.is_null()) {
                out.put(BoltString::from(k.as_str()), bolt(v));
            }
            BoltType::Map(out)
        }
    }
}

async fn run(graph: &Graph, text: &str) {
    graph
        .run(query(text))
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"));
}

async fn count(graph: &Graph, text: &str) -> i64 {
    let mut rows = graph.execute(query(text)).await.expect("count query");
    let row = rows.next().await.expect("row").expect("one row");
    row.get::<i64>("c").expect("c")
}

/// Deletes everything: relationships first, in small transactions, so that
/// deleting a node with a million relationships (a `Status`) never has to
/// hold them all in one transaction (that exhausts a 2 GiB heap).
async fn wipe(graph: &Graph) {
    run(
        graph,
        "MATCH ()-[r]->() CALL { WITH r DELETE r } IN TRANSACTIONS OF 10000 ROWS",
    )
    .await;
    run(
        graph,
        "MATCH (n) CALL { WITH n DELETE n } IN TRANSACTIONS OF 10000 ROWS",
    )
    .await;
}

/// Writes `records` with the batched writer, `writers` tasks in parallel; returns the elapsed time.
async fn timed_write(writer: &GraphWriter, records: Vec<TraceRecord>, writers: usize) -> Duration {
    let start = Instant::now();
    let per = records.len().div_ceil(writers);
    let mut tasks = Vec::new();
    for part in records.chunks(per.max(1)) {
        let (w, part) = (writer.clone(), part.to_vec());
        tasks.push(tokio::spawn(async move { w.write(&part).await }));
    }
    for t in tasks {
        let report = t.await.expect("task").expect("write");
        assert!(report.rejected.is_empty(), "{:?}", report.rejected.first());
    }
    start.elapsed()
}

/// One slice, generated in chunks of 10 000 outside the timer.
async fn writer_slice(writer: &GraphWriter, source: &mut Source, n: usize, o: &Opts) -> f64 {
    let mut spent = Duration::ZERO;
    let mut left = n;
    while left > 0 {
        let chunk = source.take(left.min(10_000));
        left -= chunk.len();
        spent += timed_write(writer, chunk, o.writers).await;
    }
    n as f64 / spent.as_secs_f64()
}

/// The ceiling: the same action rows, one `UNWIND … CREATE` per batch,
/// in its own label. Returns the time spent (rows are prepared untimed).
async fn ceiling_chunk(graph: &Graph, records: &[TraceRecord], batch: usize) -> Duration {
    let rows: Vec<BoltType> = records
        .iter()
        .map(|r| {
            let row = map_trace(&r.trace, &r.context).expect("maps");
            bolt(&serde_json::to_value(&row.action).expect("json"))
        })
        .collect();
    let start = Instant::now();
    for chunk in rows.chunks(batch) {
        let mut txn = graph.start_txn().await.expect("txn");
        txn.run(
            query("UNWIND $rows AS row CREATE (a:CeilAction) SET a = row, a.time = datetime({epochMillis: row.timeMs})")
                .param("rows", chunk.to_vec()),
        )
        .await
        .expect("ceiling");
        txn.commit().await.expect("commit");
    }
    start.elapsed()
}

/// The Neo4j server's process: `TG_BENCH_NEO4J_PID`, else the PID file of
/// `scripts/neo4j-local` in `NEO4J_LOCAL_DIR` (default `.local/neo4j`).
fn neo4j_pid() -> Option<u32> {
    let from_file = || {
        let dir = std::env::var("NEO4J_LOCAL_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.local/neo4j").to_owned());
        std::fs::read_to_string(format!("{dir}/neo4j.pid")).ok()
    };
    let pid: u32 = std::env::var("TG_BENCH_NEO4J_PID")
        .ok()
        .or_else(from_file)?
        .trim()
        .parse()
        .ok()?;
    std::path::Path::new(&format!("/proc/{pid}"))
        .exists()
        .then_some(pid)
}

/// User + system CPU seconds of a process (`/proc/<pid>/stat`, ticks of 1/100 s).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
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

/// CPU seconds spent by this process (mapping, encoding, the driver) and by Neo4j.
#[derive(Default)]
struct Cpu {
    client: f64,
    server: f64,
}

impl Cpu {
    fn now(server: Option<u32>) -> Cpu {
        Cpu {
            client: cpu_secs(std::process::id()),
            server: server.map_or(0.0, cpu_secs),
        }
    }

    fn add(&mut self, from: &Cpu, to: &Cpu) {
        self.client += to.client - from.client;
        self.server += to.server - from.server;
    }

    fn report(&self, what: &str, traces: usize, with_server: bool) {
        let us = |secs: f64| secs * 1e6 / traces as f64;
        if !with_server {
            println!("  {what} CPU per trace: bench process {:.0} µs (Neo4j's: set NEO4J_LOCAL_DIR or TG_BENCH_NEO4J_PID)", us(self.client));
            return;
        }
        let total = us(self.client + self.server);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "  {what} CPU per trace: bench process {:.0} µs + Neo4j {:.0} µs = {total:.0} µs; \
             {cores} cores fully busy would allow at most {:.0} traces/s",
            us(self.client),
            us(self.server),
            cores as f64 * 1e6 / total
        );
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

#[tokio::main]
async fn main() {
    let o = opts();
    let Ok(uri) = std::env::var("NEO4J_URI") else {
        println!("load bench skipped: NEO4J_URI not set (eval \"$(scripts/neo4j-local env)\")");
        return;
    };
    let user = std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let password = std::env::var("NEO4J_PASSWORD").unwrap_or_default();
    let mut config = GraphConfig::new(uri.clone(), user.clone(), password.clone());
    config.batch_size = o.batch;
    config.write_concurrency = o.concurrency;
    let writer = GraphWriter::connect(config).await.expect("connect");
    // Wiping a million nodes takes minutes; neo4rs's timeout covers every answer.
    let admin = neo4rs::ConfigBuilder::default()
        .uri(uri.as_str())
        .user(user.as_str())
        .password(password.as_str())
        .connection_timeout(Duration::from_secs(3600))
        .build()
        .expect("config");
    let graph = Graph::connect(admin).expect("graph");

    println!("trace-graph load bench: WIPING the database at {uri}");
    wipe(&graph).await;
    writer.ensure_schema().await.expect("schema");
    // What an index costs the writer: measure without it (the next ensure_schema creates it again).
    let to_drop = std::env::var("TG_BENCH_DROP_INDEXES").unwrap_or_default();
    for name in to_drop.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        assert!(
            trace_graph::schema::schema_names().contains(&name),
            "TG_BENCH_DROP_INDEXES: {name:?} is not an index of trace-graph; use names from SHOW INDEXES, e.g. tg_action_name"
        );
        run(&graph, &format!("DROP INDEX {name} IF EXISTS")).await;
        println!("dropped index {name} for this run (TG_BENCH_DROP_INDEXES)");
    }
    if o.warmup > 0 {
        // Other traces (another seed), written and wiped before the measured run.
        let mut warm = Source::new(o.seed.wrapping_add(1_000_003));
        let mut left = o.warmup;
        while left > 0 {
            let chunk = warm.take(left.min(10_000));
            left -= chunk.len();
            timed_write(&writer, chunk.clone(), o.writers).await;
            ceiling_chunk(&graph, &chunk, o.batch).await;
        }
        wipe(&graph).await;
        println!(
            "warm-up: {} traces written by the writer and the ceiling, then wiped",
            o.warmup
        );
    }
    println!(
        "total {} actions, slices of {}, batch {}, {} batch(es) in flight per write, {} writer task(s), seed {}",
        o.total, o.slice, o.batch, o.concurrency, o.writers, o.seed
    );

    // Slice 1: the writer and the ceiling take turns on the same rows, 10 000
    // at a time, so both see the same machine load.
    let mut source = Source::new(o.seed);
    if let Ok(dir) = std::env::var("TG_BENCH_ARCHIVE") {
        println!("traces read from the archive {dir}");
        source.archive = Some(archive::Archive::open(std::path::Path::new(&dir)));
    }
    let mut slice1 = Vec::with_capacity(o.slice);
    let (mut spent_writer, mut spent_ceiling) = (Duration::ZERO, Duration::ZERO);
    let server = neo4j_pid();
    let (mut cpu_writer, mut cpu_ceiling) = (Cpu::default(), Cpu::default());
    while slice1.len() < o.slice {
        let chunk = source.take((o.slice - slice1.len()).min(10_000));
        let before = Cpu::now(server);
        spent_writer += timed_write(&writer, chunk.clone(), o.writers).await;
        let between = Cpu::now(server);
        spent_ceiling += ceiling_chunk(&graph, &chunk, o.batch).await;
        cpu_writer.add(&before, &between);
        cpu_ceiling.add(&between, &Cpu::now(server));
        slice1.extend(chunk);
    }
    let first = o.slice as f64 / spent_writer.as_secs_f64();
    let ceiling = o.slice as f64 / spent_ceiling.as_secs_f64();
    run(
        &graph,
        "MATCH (n:CeilAction) CALL { WITH n DELETE n } IN TRANSACTIONS OF 10000 ROWS",
    )
    .await;
    println!(
        "writer, slice 1 (0 -> {} actions): {first:.0} traces/s",
        o.slice
    );
    println!(
        "ceiling, one UNWIND CREATE per batch of {} (same rows, interleaved): {ceiling:.0} traces/s",
        o.batch
    );
    cpu_writer.report("writer", o.slice, server.is_some());
    cpu_ceiling.report("ceiling", o.slice, server.is_some());

    // The original pattern on the next traces, with its namespace as large as ours.
    let mut next = Vec::new();
    let (mut orig_actions, mut original) = (0, f64::NAN);
    if o.baseline > 0 {
        original::preload_original(&graph, &slice1).await;
        next = source.take(o.slice.min(o.total - o.slice));
        let (n, rate) = original::original_rate(
            &graph,
            &next[..o.baseline.min(next.len())],
            Duration::from_secs(o.baseline_secs),
        )
        .await;
        original = rate;
        orig_actions = count(&graph, "MATCH (a:OrigACTION) RETURN count(a) AS c").await;
        println!(
            "original pattern, {n} traces at {orig_actions} Orig actions: {original:.1} traces/s"
        );
        for text in [
            "MATCH (n)-[r]->() WHERE any(l IN labels(n) WHERE l STARTS WITH 'Orig') \
             CALL { WITH r DELETE r } IN TRANSACTIONS OF 10000 ROWS",
            "MATCH (n) WHERE any(l IN labels(n) WHERE l STARTS WITH 'Orig') \
             CALL { WITH n DELETE n } IN TRANSACTIONS OF 10000 ROWS",
        ] {
            run(&graph, text).await;
        }
    }
    drop(slice1);

    let mut rates = vec![first];
    let mut slice = 2;
    while source.n < o.total || !next.is_empty() {
        let n = if next.is_empty() {
            o.slice.min(o.total - source.n)
        } else {
            next.len()
        };
        let rate = if next.is_empty() {
            writer_slice(&writer, &mut source, n, &o).await
        } else {
            let spent = timed_write(&writer, std::mem::take(&mut next), o.writers).await;
            n as f64 / spent.as_secs_f64()
        };
        let actions = count(&graph, "MATCH (a:Action) RETURN count(a) AS c").await;
        println!("writer, slice {slice} (-> {actions} actions): {rate:.0} traces/s");
        rates.push(rate);
        slice += 1;
    }
    let overall = rates.len() as f64 / rates.iter().map(|r| 1.0 / r).sum::<f64>();
    let last = *rates.last().unwrap_or(&first);
    println!();
    println!("| measure | traces/s |");
    println!("|---|---|");
    println!("| batched writer, first {} actions | {first:.0} |", o.slice);
    println!(
        "| batched writer, last slice (graph at {} actions) | {last:.0} |",
        o.total
    );
    println!("| batched writer, whole run (harmonic mean of slices) | {overall:.0} |");
    if o.baseline > 0 {
        println!("| original pattern at {orig_actions} actions | {original:.1} |");
    }
    println!("| ceiling: one UNWIND CREATE per batch | {ceiling:.0} |");
    println!();
    println!(
        "writer >= 10000 traces/s at start: {}",
        verdict(first >= 10_000.0)
    );
    // The original was measured once its namespace held one slice of actions;
    // the writer's rate at that size is slice 2's (it starts at one slice).
    let at_size = rates.get(1).copied().unwrap_or(first);
    if o.baseline > 0 {
        println!(
            "writer >= 100x original at {} actions: {} ({:.0}x; slice 2 {at_size:.0} against {original:.1} traces/s; \
             the first slice gives {:.0}x)",
            o.slice,
            verdict(at_size >= 100.0 * original),
            at_size / original,
            first / original
        );
    }
    println!(
        "writer >= half the ceiling: {} ({:.0}%)",
        verdict(first * 2.0 >= ceiling),
        100.0 * first / ceiling
    );
    println!(
        "last slice >= 80% of first: {} ({:.0}%)",
        verdict(last >= 0.8 * first),
        100.0 * last / first
    );
}
