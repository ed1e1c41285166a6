//! One run of the suite, start to verdict: fresh Neo4j, emulator, sinks,
//! exporters; the fault schedule while traces flow; the cut-off and drain;
//! SIGTERM to everything; the checks; the report. The processes are watched
//! throughout (see `supervise`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::graph::Checks;
use crate::neo4j_local::Neo4jLocal;
use crate::profile::{FaultKind, Profile, Step};
use crate::report::{FaultLine, Report};
use crate::stack::{self, EXPORTERS, SINKS};
use crate::supervise::{drain, start_sinks_and_exporters, stop};
use crate::truth::{self, Comparison, Truth};

/// Where things are.
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory of the built binaries (`target/release` or `target/debug`).
    pub bin_dir: PathBuf,
    /// Repository root (for `scripts/neo4j-local`).
    pub repo: PathBuf,
    /// Directory for this run's logs and files.
    pub run_dir: PathBuf,
}

/// Stops the suite's Neo4j when a run ends early (error or Ctrl-C).
struct Neo4jGuard(Option<Neo4jLocal>);

impl Drop for Neo4jGuard {
    fn drop(&mut self) {
        if let Some(n) = self.0.take() {
            n.stop_blocking();
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Runs the suite and returns its report (an `Err` means it could not run).
pub async fn run(profile: &Profile, opts: &Options) -> anyhow::Result<Report> {
    let run = opts.run_dir.as_path();
    std::fs::create_dir_all(run).with_context(|| format!("creating {}", run.display()))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let t0 = Instant::now();
    let mut phases = Vec::new();
    let mut phase_start = Instant::now();
    let mut end_phase = |name: &str, start: &mut Instant| {
        phases.push((name.to_string(), start.elapsed()));
        *start = Instant::now();
    };
    let say = |what: &str| println!("[{:>6.1} s] {what}", t0.elapsed().as_secs_f64());

    // ---- start-up
    let neo4j = Neo4jLocal::new(&opts.repo, &run.join("neo4j-local.log"));
    let mut guard = Neo4jGuard(Some(neo4j.clone()));
    say("resetting and starting the suite's Neo4j (port 7698, .local/neo4j-faults)");
    neo4j.reset().await?;
    let took = neo4j.start().await?;
    say(&format!("Neo4j ready after {:.1} s", took.as_secs_f64()));
    let conn = neo4j.conn().await?;

    let mut emulator = stack::emulator(&opts.bin_dir, run, profile);
    emulator.start()?;
    let info = stack::emulator_info(&mut emulator).await?;
    say(&format!(
        "emulator at {} ({} + {} history traces, {}/s per project live, up to {} s late, 5% 500 / 2% 429)",
        info.base_url,
        profile.history_per_project,
        profile.history_per_project,
        profile.live_rate,
        profile.max_ingestion_delay_secs
    ));

    let mut stack = start_sinks_and_exporters(
        &opts.bin_dir,
        run,
        profile,
        &conn,
        &info,
        emulator,
        &http,
        t0,
    )
    .await?;
    end_phase("start-up", &mut phase_start);

    // ---- faults
    let mut injected: Vec<(FaultKind, usize)> = Vec::new();
    let mut neo4j_stopped_at = None;
    // Per exporter, the incarnations that must resume from the state file:
    // those started while it existed.
    let mut must_resume: Vec<Vec<u32>> = vec![Vec::new(); EXPORTERS.len()];
    let mut in_tx_hits = 0usize;
    let mut early_exporter_kills = 0usize;
    for step in &profile.steps {
        match *step {
            Step::Sleep(d) => stack.watch(d).await?,
            Step::KillSink { sink, down } => {
                let pid = stack.sinks[sink].kill().await?;
                stack.say(&format!("SIGKILL {} (pid {pid})", SINKS[sink]));
                stack.watch(down).await?;
                stack.sinks[sink].start()?;
                stack.say(&format!("{} started again", SINKS[sink]));
            }
            Step::KillSinkInTransaction { sink, down, within } => {
                let port = stack.sink_ports[sink];
                let depth = stack
                    .watch_while(write_in_flight(&http, &[port], within))
                    .await?;
                let pid = stack.sinks[sink].kill().await?;
                if depth.is_some() {
                    in_tx_hits += 1;
                }
                stack.say(&format!(
                    "SIGKILL {} (pid {pid}) {}",
                    SINKS[sink],
                    match depth {
                        Some(d) => format!("with {d} events waiting for their commit"),
                        None => format!("(no write in flight within {} s)", within.as_secs()),
                    }
                ));
                stack.watch(down).await?;
                stack.sinks[sink].start()?;
                stack.say(&format!("{} started again", SINKS[sink]));
            }
            Step::KillExporter { exporter, down } => {
                let lived = stack.exporters[exporter].uptime();
                if lived <= Duration::from_secs(10) {
                    early_exporter_kills += 1;
                }
                let pid = stack.exporters[exporter].kill().await?;
                stack.say(&format!(
                    "SIGKILL {} (pid {pid}) {:.1} s after its start",
                    EXPORTERS[exporter],
                    lived.as_secs_f64()
                ));
                stack.watch(down).await?;
                let other = 1 - stack.exporter_sink[exporter];
                stack.exporter_sink[exporter] = other;
                let url = stack::sink_url(stack.sink_ports[other]);
                stack.exporters[exporter].spec.set("K_SINK", url);
                let has_state = stack::state_file(run, EXPORTERS[exporter]).exists();
                stack.exporters[exporter].start()?;
                if has_state {
                    must_resume[exporter].push(stack.exporters[exporter].incarnations());
                }
                stack.say(&format!(
                    "{} started again after {:.1} s, {}, now sending to {}",
                    EXPORTERS[exporter],
                    down.as_secs_f64(),
                    if has_state {
                        "with its state file"
                    } else {
                        "without a state file (killed before saving its start)"
                    },
                    SINKS[other]
                ));
            }
            Step::StopNeo4j => {
                let took = stack.watch_while(neo4j.stop()).await??;
                neo4j_stopped_at = Some(Instant::now());
                stack.say(&format!("Neo4j stopped (took {:.1} s)", took.as_secs_f64()));
            }
            Step::KillNeo4j { within } => {
                let ports = stack.sink_ports.clone();
                let depth = stack
                    .watch_while(write_in_flight(&http, &ports, within))
                    .await?;
                let took = stack.watch_while(neo4j.kill()).await??;
                neo4j_stopped_at = Some(Instant::now());
                stack.say(&format!(
                    "SIGKILL Neo4j {} (port closed after {:.1} s)",
                    match depth {
                        Some(d) => format!("with {d} events waiting for their commit"),
                        None => "(no write in flight)".to_string(),
                    },
                    took.as_secs_f64()
                ));
            }
            Step::StartNeo4j { outage } => {
                let since = neo4j_stopped_at.map(|t| t.elapsed()).unwrap_or(outage);
                stack.watch(outage.saturating_sub(since)).await?;
                stack.say(&format!(
                    "starting Neo4j again after {:.1} s down",
                    neo4j_stopped_at
                        .map(|t| t.elapsed().as_secs_f64())
                        .unwrap_or(0.0)
                ));
                let took = stack.watch_while(neo4j.start()).await??;
                stack.say(&format!(
                    "Neo4j ready again after {:.1} s",
                    took.as_secs_f64()
                ));
            }
        }
        if let Some(kind) = step.fault() {
            match injected.iter_mut().find(|(k, _)| *k == kind) {
                Some(slot) => slot.1 += 1,
                None => injected.push((kind, 1)),
            }
        }
    }
    end_phase("faults", &mut phase_start);

    // ---- cut-off and drain
    let mut expected_truths = Vec::new();
    for p in &info.projects {
        expected_truths.push(truth::fetch(&http, &info.base_url, &p.id).await?);
    }
    let cutoff = now_ms();
    // Each project is owed every trace after its exporter's first lower edge.
    let mut edges = std::collections::BTreeMap::new();
    for (i, p) in info.projects.iter().enumerate() {
        let logs: Vec<PathBuf> = (1..=stack.exporters[i].incarnations())
            .map(|n| stack.exporters[i].log_of(n))
            .collect();
        match stack::first_lower_edge(&logs) {
            Some(edge) => {
                edges.insert(p.id.clone(), edge);
            }
            None => anyhow::bail!(
                "{} logged no fresh start (`no saved state; starting CTS_FROM back`); see {}",
                EXPORTERS[i],
                stack.exporters[i].log_of(1).display()
            ),
        }
    }
    let (expected, not_owed) = truth::id_sets_after(&expected_truths, &edges)?;
    let not_owed_ids: std::collections::HashSet<&String> = not_owed.values().flatten().collect();
    stack.say(&format!(
        "cut-off: {} traces owed ({} after the first lower edges, of {} visible), {} still pending; waiting until both exporters' watermarks pass it",
        expected.values().map(|s| s.len()).sum::<usize>(),
        expected.values().map(|s| s.len().to_string()).collect::<Vec<_>>().join(" + "),
        expected_truths.iter().map(|t| t.trace_ids.len()).sum::<usize>(),
        expected_truths.iter().map(|t| t.pending_count).sum::<usize>()
    ));
    let drained = drain(&mut stack, run, cutoff, profile.drain_timeout).await?;
    end_phase("drain", &mut phase_start);

    // ---- shutdown: exporters first (they save their state), then the sinks
    // (they commit what they accepted), then the emulator.
    let mut shutdowns = Vec::new();
    for p in stack.exporters.iter_mut() {
        shutdowns.push(stop(p, Duration::from_secs(30)).await?);
    }
    let mut final_truths: Vec<Truth> = Vec::new();
    for p in &info.projects {
        final_truths.push(truth::fetch(&http, &info.base_url, &p.id).await?);
    }
    for p in stack.sinks.iter_mut() {
        shutdowns.push(stop(p, Duration::from_secs(35)).await?);
    }
    shutdowns.push(stop(&mut stack.emulator, Duration::from_secs(15)).await?);
    say(&format!(
        "SIGTERM sent to every process: {}",
        shutdowns
            .iter()
            .map(|s| format!(
                "{} exit {}",
                s.name,
                s.code.map_or("none".to_string(), |c| c.to_string())
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    end_phase("shutdown", &mut phase_start);

    // ---- checks
    let checks = Checks::connect(&conn)?;
    let found = checks.actions().await?;
    let at_end = truth::id_sets(&final_truths)?;
    let comparison = Comparison::new(&expected, &at_end, &found);
    let before_edge = found
        .iter()
        .filter(|a| not_owed_ids.contains(&a.trace_id))
        .count();
    let keys = checks.keys().await?;
    let repeated = checks.repeated_relationships().await?;
    drop(checks);
    end_phase("checks", &mut phase_start);
    match neo4j.stop().await {
        Ok(_) => guard.0 = None,
        Err(e) => say(&format!("stopping Neo4j at the end failed: {e:#}")),
    }

    let restarts = stack
        .exporters
        .iter()
        .zip(&must_resume)
        .map(|(e, must)| {
            let resumed = must
                .iter()
                .filter(|n| stack::resumed_from_state(&e.log_of(**n)))
                .count();
            crate::report::Restarts {
                name: e.name.clone(),
                restarts: e.incarnations().saturating_sub(1) as usize,
                with_state: must.len(),
                resumed,
            }
        })
        .collect();
    let exporter_logs: Vec<PathBuf> = list_logs(run, "exporter-")?;
    let (cts_500, cts_429) = stack::cts_faults_seen(&exporter_logs);
    let dead_letters = EXPORTERS
        .iter()
        .map(|n| stack::dead_letters(&stack::dead_letter_file(run, n)))
        .sum();
    let faults = FaultKind::ALL
        .into_iter()
        .filter(|k| profile.planned(*k) > 0)
        .map(|kind| FaultLine {
            what: kind.describe().to_string(),
            planned: profile.planned(kind),
            injected: injected
                .iter()
                .find(|(k, _)| *k == kind)
                .map_or(0, |(_, n)| *n),
        })
        .collect();
    Ok(Report {
        form: profile.form.to_string(),
        seed: profile.seed,
        before_edge,
        in_tx_hits,
        early_exporter_kills,
        faults,
        cts_500,
        cts_429,
        comparison,
        keys,
        repeated,
        shutdowns,
        unexpected: stack.unexpected,
        dead_letters,
        restarts,
        drained,
        phases,
    })
}

/// Polls the sinks on `ports` until one reports events waiting for their
/// commit (a Neo4j write in flight); that count, or `None` after `within`.
async fn write_in_flight(http: &reqwest::Client, ports: &[u16], within: Duration) -> Option<f64> {
    let started = Instant::now();
    while started.elapsed() < within {
        for port in ports {
            if let Some(d) = stack::sink_queue_depth(http, *port).await {
                if d > 0.0 {
                    return Some(d);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

fn list_logs(run: &Path, prefix: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(run).with_context(|| format!("listing {}", run.display()))? {
        let path = e?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with(prefix) && name.ends_with(".log") {
            out.push(path);
        }
    }
    Ok(out)
}
