//! `fault-suite`: the end-to-end proof under faults of issue 6. It runs the
//! emulator, two exporters, two sinks and a Neo4j of its own, kills and stops
//! them on purpose while traces flow, then compares the trace ids in Neo4j
//! with the emulator's ground truth and checks every node key and every
//! process's clean exit. Run it through `scripts/faults`, which builds the
//! binaries first; docs/reliability.md describes the setup and the results.
//!
//! Exit codes: 0 when everything matched, 1 when the run found a defect,
//! 2 for bad flags, 70 when the suite itself could not run, 130 on Ctrl-C
//! (SIGINT) or SIGTERM, after stopping every process it started and its Neo4j.

mod graph;
mod neo4j_local;
mod procs;
mod profile;
mod report;
mod run;
mod stack;
mod supervise;
mod truth;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::profile::{Form, Profile};

/// Breaks the pipeline on purpose while traces flow and counts what survives.
#[derive(Debug, Parser)]
#[command(name = "fault-suite", version, about)]
struct Args {
    /// About 10,000 traces, each fault once (the default; under 5 minutes).
    #[arg(long, conflicts_with = "long")]
    short: bool,
    /// At least 100,000 traces, every fault as often as issue 6 asks.
    #[arg(long)]
    long: bool,
    /// Directory holding cts-emulator, cts-exporter and neo4j-sink.
    #[arg(long)]
    bin_dir: PathBuf,
    /// Repository root (scripts/neo4j-local is run from there).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Directory for this run's logs, state files and report.
    #[arg(long)]
    run_dir: PathBuf,
    /// Negative control: the exporters' CTS_LATENESS_SECS (default: the
    /// emulator's largest ingestion delay, 180). Below it, late traces are
    /// lost on purpose and the suite must fail.
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    exporter_lateness_secs: Option<u64>,
}

fn interrupted(signal: &str) -> ExitCode {
    eprintln!("fault-suite: interrupted by {signal}; every process it started is stopped");
    ExitCode::from(130)
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        return p;
    }
    std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let form = if args.long { Form::Long } else { Form::Short };
    let mut profile = Profile::new(form);
    if let Some(l) = args.exporter_lateness_secs {
        println!(
            "NEGATIVE CONTROL: exporters run with CTS_LATENESS_SECS={l} against traces up to {} s late",
            profile.max_ingestion_delay_secs
        );
        profile.exporter_lateness_secs = l;
    }
    let opts = run::Options {
        bin_dir: absolute(args.bin_dir),
        repo: absolute(args.repo),
        run_dir: absolute(args.run_dir),
    };
    for bin in ["cts-emulator", "cts-exporter", "neo4j-sink"] {
        if !opts.bin_dir.join(bin).is_file() {
            eprintln!(
                "fault-suite: {} has no {bin}; build it first (scripts/faults does)",
                opts.bin_dir.display()
            );
            return ExitCode::from(70);
        }
    }
    println!(
        "fault suite, {form} form; logs in {}",
        opts.run_dir.display()
    );
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fault-suite: cannot listen for SIGTERM: {e}");
            return ExitCode::from(70);
        }
    };
    let outcome = tokio::select! {
        r = run::run(&profile, &opts) => r,
        // Dropping the run stops every child (kill on drop) and Neo4j.
        _ = tokio::signal::ctrl_c() => return interrupted("SIGINT"),
        _ = term.recv() => return interrupted("SIGTERM"),
    };
    match outcome {
        Ok(report) => {
            let text = report.render();
            println!("\n{text}");
            let _ = std::fs::write(opts.run_dir.join("report.md"), &text);
            if report.failures().is_empty() {
                ExitCode::SUCCESS
            } else {
                println!("logs of every process: {}", opts.run_dir.display());
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!(
                "fault-suite: the suite could not run: {e:#}\nlogs: {}",
                opts.run_dir.display()
            );
            ExitCode::from(70)
        }
    }
}
