//! cts-exporter: polls the Open Telekom Cloud Cloud Trace Service and
//! delivers every trace as a CloudEvent to a Knative sink.
//!
//! This file only wires: parse the command line, set up logging, run, and
//! turn the outcome into an exit code (0, 78 for configuration, 70 at run
//! time). Everything else lives in its own module.

mod app;
mod backfill;
mod cli;
mod config;
mod delivery;
mod dispatcher;
mod metrics;
mod ops;
mod poller;
mod tenant;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { app::EXIT_CONFIG } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let config = match config::Config::from_args(&cli.common) {
        Ok(c) => c,
        Err(e) => return fail(&app::AppError::from(e)),
    };
    init_tracing(config.debug);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return fail(&app::AppError::Runtime(format!(
                "cannot start the async runtime: {e}"
            )))
        }
    };
    match runtime.block_on(app::run(cli, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &app::AppError) -> ExitCode {
    eprintln!("cts-exporter: {e}");
    ExitCode::from(e.exit_code())
}

/// Logs go to stderr (stdout carries events in dry-run mode); `RUST_LOG` overrides the level.
fn init_tracing(debug: bool) {
    let default = if debug {
        "info,cts_exporter=debug,cts_client=debug,otc_auth=debug"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
