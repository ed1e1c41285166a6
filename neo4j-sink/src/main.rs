//! The neo4j-sink binary: settings, logging, signals; everything else is the library.
//! `neo4j-sink query …` answers playbook questions instead (see `query_cmd`);
//! `neo4j-sink detect` runs the detection rules (see `detect_cmd`).

use clap::error::ErrorKind;
use clap::Parser;
use neo4j_sink::config::LogFormat;
use neo4j_sink::graph_store::GraphStore;
use neo4j_sink::log_noise::DriverNoise;
use neo4j_sink::{RawArgs, Settings, Shutdown, Sink, StartError};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

mod detect_cmd;
mod query_cmd;

/// sysexits EX_CONFIG: the process was started with unusable settings.
const EXIT_CONFIG: u8 = 78;

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "query") {
        return query_cmd::main(std::env::args_os().skip(1));
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "detect") {
        return detect_cmd::main(std::env::args_os().skip(1));
    }
    let raw = match RawArgs::try_parse() {
        Ok(raw) => raw,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let settings = match raw.validate() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("neo4j-sink: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(settings))
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::new(&settings.log_level);
    // The driver's per-connection notices once per process, unless debug output is asked for.
    let level = settings.log_level.to_ascii_lowercase();
    let noise = DriverNoise::new(level.contains("debug") || level.contains("trace"));
    // Colour codes only for a terminal: piped into a log collector they are noise.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let registry = tracing_subscriber::registry().with(filter).with(noise);
    match settings.log_format {
        LogFormat::Json => registry
            .with(fmt.json().flatten_event(true).with_current_span(false))
            .init(),
        LogFormat::Text => registry.with(fmt).init(),
    }
}

async fn run(settings: Settings) -> ExitCode {
    let store = Arc::new(GraphStore::new(&settings.neo4j, settings.batch.max_events));
    let sink = match Sink::start(&settings, store).await {
        Ok(sink) => sink,
        Err(StartError::Config(message)) => {
            tracing::error!(error = %message, "configuration error");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let address = SocketAddr::new(settings.listen_addr, settings.port);
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, %address, "cannot listen (PORT / LISTEN_ADDR)");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        %address,
        version = env!("CARGO_PKG_VERSION"),
        neo4j_uri = %settings.neo4j.uri,
        oidc = settings.oidc.is_some(),
        "neo4j-sink listening"
    );
    match sink.serve(listener, shutdown_signal()).await {
        Ok(Shutdown::Drained) => tracing::info!("shutdown complete"),
        Ok(Shutdown::TimedOut { pending_events }) => tracing::warn!(
            pending_events,
            "shutdown bound (SHUTDOWN_TIMEOUT_SECS) reached; unanswered senders will retry"
        ),
        Err(e) => {
            tracing::error!(error = %e, "the HTTP server failed");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Resolves on SIGTERM (Kubernetes, Knative) or Ctrl-C; the sink and `detect` stop on it.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
