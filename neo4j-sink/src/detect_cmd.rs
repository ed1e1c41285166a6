//! `neo4j-sink detect`: wiring only (settings, logging, runtime, signals,
//! health server); the detector itself is `neo4j_sink::detect`.
//! Exit codes: 0 stopped by SIGTERM (or `--detect-once` with everything
//! sent), 2 usage mistake, 78 unusable settings or refused credentials,
//! 1 a failed `--detect-once` run or an unusable port.

use neo4j_sink::config::LogFormat;
use neo4j_sink::detect::run::{health_app, DetectMetrics, Detector, Health};
use neo4j_sink::detect::send::{CeSender, SenderConfig};
use neo4j_sink::detect::{parse, DetectSettings};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use trace_graph::{Error, GraphConfig, GraphWriter};

const EXIT_CONFIG: u8 = 78;

pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let settings = match parse(args) {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            eprintln!("neo4j-sink detect: configuration error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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

fn init_logging(settings: &DetectSettings) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::new(&settings.log_level);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let registry = tracing_subscriber::registry().with(filter);
    match settings.log_format {
        LogFormat::Json => registry
            .with(fmt.json().flatten_event(true).with_current_span(false))
            .init(),
        LogFormat::Text => registry.with(fmt).init(),
    }
}

fn exit_for(e: &Error) -> ExitCode {
    match e {
        Error::Auth { .. } | Error::Config { .. } | Error::Detection { .. } => {
            ExitCode::from(EXIT_CONFIG)
        }
        _ => ExitCode::FAILURE,
    }
}

async fn run(settings: DetectSettings) -> ExitCode {
    let n = &settings.neo4j;
    let mut config = GraphConfig::new(
        n.uri.clone(),
        n.user.clone(),
        n.password.expose().to_owned(),
    );
    config.database = n.database.clone();
    config.ca_cert = n.ca_cert.clone();
    config.max_connections = 4;
    config.max_retries = n.max_retries;
    config.connect_timeout = n.connect_timeout;
    let writer = match GraphWriter::connect(config).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "cannot connect to Neo4j");
            return exit_for(&e);
        }
    };
    if let Err(e) = writer.ensure_schema().await {
        tracing::error!(error = %e, "cannot create the schema");
        return exit_for(&e);
    }
    let sender = match CeSender::new(&SenderConfig {
        sink: settings.sink.clone(),
        overrides: settings.overrides.clone(),
        timeout: settings.send_timeout,
        retries: settings.send_retries,
        ca_pem: settings.ca_pem.clone(),
        oidc_token_file: settings.oidc_token_file.clone(),
    }) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the sender");
            return ExitCode::FAILURE;
        }
    };
    let metrics = match DetectMetrics::new() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "cannot register metrics");
            return ExitCode::FAILURE;
        }
    };
    let ready = Arc::new(AtomicBool::new(false));
    let address = SocketAddr::new(settings.listen_addr, settings.port);
    let listener = match tokio::net::TcpListener::bind(address).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, %address, "cannot listen (PORT / LISTEN_ADDR)");
            return ExitCode::FAILURE;
        }
    };
    let app = health_app(Health {
        metrics: metrics.clone(),
        ready: ready.clone(),
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let interval = settings.interval;
    let once = settings.once;
    tracing::info!(
        %address,
        detector = %settings.name,
        rules = settings.rules.enabled().len(),
        interval_secs = interval.as_secs(),
        sink = %settings.sink,
        "neo4j-sink detect started"
    );
    let detector = Detector {
        settings,
        writer,
        sender: Arc::new(sender),
        metrics,
    };
    if detector.settings.warm_up {
        match detector.warm_up().await {
            Ok(took) => tracing::info!(
                rules = detector.settings.rules.enabled().len(),
                duration_ms = took.as_millis() as u64,
                "rule queries planned"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not plan the rule queries ahead; the first run plans them")
            }
        }
    }
    let mut stop = std::pin::pin!(crate::shutdown_signal());
    loop {
        let outcome = tokio::select! {
            r = detector.run_once() => r,
            () = &mut stop => {
                tracing::info!("stopped during a run; the next start repeats it");
                return ExitCode::SUCCESS;
            }
        };
        match outcome {
            Ok(report) => {
                ready.store(true, Ordering::Relaxed);
                detector.metrics.runs.with_label_values(&["ok"]).inc();
                let new: usize = report.new_findings.values().sum();
                tracing::info!(
                    new_findings = new,
                    sent = report.sent,
                    unsent = report.unsent,
                    "run complete"
                );
                if once {
                    return if report.unsent == 0 {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    };
                }
            }
            Err(e) => {
                ready.store(false, Ordering::Relaxed);
                detector.metrics.runs.with_label_values(&["failed"]).inc();
                tracing::error!(error = %e, "run failed; repeated at the next interval");
                if once || matches!(e, Error::Auth { .. } | Error::Detection { .. }) {
                    return exit_for(&e);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = &mut stop => {
                tracing::info!("shutdown");
                return ExitCode::SUCCESS;
            }
        }
    }
}
