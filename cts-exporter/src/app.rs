//! Wiring: configuration in, pollers (or a backfill) running, an exit code out.
//!
//! Nothing here decides behaviour; it builds the parts (transport, state,
//! dead-letter file, one authenticated CTS client per cloud) and starts
//! them. Errors are sorted into the two exit codes the original exporter
//! used: 78 for configuration the user must fix, 70 for runtime failures.

use std::sync::Arc;

use tokio::sync::watch;

use crate::backfill;
use crate::cli::{Cli, Command};
use crate::config::{Config, ConfigError, Output};
use ce_delivery::{random_jitter, Batching, HttpConfig, Pipeline, RetryPolicy};

use crate::delivery::dead_letter::DeadLetter;
use crate::delivery::transport::{HttpTransport, PrintTransport, Transport};
use crate::delivery::LogRetries;
use crate::dispatcher::{reported, Booked, Dispatcher};
use crate::metrics::{PollerMetrics, Registry};
use crate::tenant::connect;
use cts_client::event::EventContext;
use cts_client::follow::{
    run_all, system_clock, FileCheckpoint, Planner, Poller, PollerSettings, Seen,
};

/// Exit code for configuration errors (`EX_CONFIG`).
pub const EXIT_CONFIG: u8 = 78;
/// Exit code for runtime failures (`EX_SOFTWARE`).
pub const EXIT_RUNTIME: u8 = 70;

/// A failure, sorted by who has to act.
#[derive(Debug)]
pub enum AppError {
    /// The configuration is wrong: exit 78.
    Config(String),
    /// Something failed while running: exit 70.
    Runtime(String),
}

impl AppError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Config(_) => EXIT_CONFIG,
            AppError::Runtime(_) => EXIT_RUNTIME,
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Config(m) => write!(f, "configuration error: {m}"),
            AppError::Runtime(m) => write!(f, "error: {m}"),
        }
    }
}

impl From<ConfigError> for AppError {
    fn from(e: ConfigError) -> Self {
        AppError::Config(e.to_string())
    }
}

/// The parts every mode shares.
pub struct Shared {
    /// The validated configuration.
    pub config: Config,
    /// Where events go.
    pub transport: Arc<dyn Transport>,
    /// Backoff between delivery attempts.
    pub retry: RetryPolicy,
    /// Bound on deliveries (events, or batches) in flight.
    pub concurrency: usize,
    /// Batch mode (`CTS_CE_BATCH`), `None` for single events.
    pub batching: Option<Batching>,
    /// The dead-letter file, if configured.
    pub dead_letter: Option<Arc<DeadLetter>>,
    /// The shutdown flag (set on SIGTERM/SIGINT).
    pub shutdown: watch::Receiver<bool>,
    /// Raises the shutdown flag.
    pub stop: Arc<watch::Sender<bool>>,
}

impl Shared {
    /// A dispatcher sending events with `context` (one tenant's, or an
    /// archive's); `name` names it in logs.
    pub fn dispatcher(
        &self,
        name: &str,
        context: EventContext,
        seen: Seen,
        metrics: &Arc<PollerMetrics>,
    ) -> Dispatcher {
        let pipeline = Pipeline::new(
            Arc::clone(&self.transport),
            self.retry.clone(),
            self.concurrency,
            random_jitter(),
        )
        .with_observer(Arc::new(LogRetries(Arc::clone(&metrics.retries))))
        .with_batching(self.batching);
        Dispatcher::new(
            context,
            self.config.overrides.extensions.clone(),
            seen,
            pipeline,
            reported(self.dead_letter.as_deref()),
            Booked {
                name: name.to_string(),
                metrics: Arc::clone(metrics),
                dead_letter: self.dead_letter.clone(),
            },
        )
    }
}

/// Runs the command line to completion.
pub async fn run(cli: Cli, config: Config) -> Result<(), AppError> {
    let (transport, retry, concurrency, batching): (Arc<dyn Transport>, _, _, _) = match &config
        .output
    {
        Output::Sink(s) => (
            Arc::new(
                HttpTransport::new(&http_config(s)).map_err(|e| AppError::Config(e.to_string()))?,
            ),
            s.retry.clone(),
            s.concurrency.get(),
            s.batch,
        ),
        Output::Print => (Arc::new(PrintTransport), RetryPolicy::default(), 1, None),
    };
    let dead_letter = match &config.dead_letter_file {
        Some(p) => Some(Arc::new(DeadLetter::open(p).map_err(|e| {
            AppError::Config(format!(
                "invalid CTS_DEAD_LETTER_FILE (--dead-letter-file): cannot open {} for appending ({e}); give a writable file path",
                p.display()
            ))
        })?)),
        None => None,
    };
    let (stop_tx, shutdown) = watch::channel(false);
    let stop = Arc::new(stop_tx);
    spawn_signal_listener(Arc::clone(&stop));
    let shared = Shared {
        config,
        transport,
        retry,
        concurrency,
        batching,
        dead_letter,
        shutdown,
        stop,
    };
    match cli.command {
        Some(Command::Backfill(args)) => backfill::run(&shared, &args).await,
        None => poll(&shared).await,
    }
}

/// The HTTP transport's settings from the exporter's.
fn http_config(s: &crate::config::SinkConfig) -> HttpConfig {
    HttpConfig {
        url: s.url.clone(),
        mode: s.mode,
        ca_pem: s.ca_pem.clone(),
        oidc_token_file: s.oidc_token_file.clone(),
        max_idle_per_host: s.concurrency.get(),
        request_timeout: s.request_timeout,
        user_agent: concat!("cts-exporter/", env!("CARGO_PKG_VERSION")).to_string(),
    }
}

/// The default mode: one poller per cloud until SIGTERM.
async fn poll(shared: &Shared) -> Result<(), AppError> {
    let cfg = &shared.config;
    let state = match &cfg.state_file {
        Some(p) => {
            let store = FileCheckpoint::open(p)
                .map_err(|e| AppError::Config(format!("CTS_STATE_FILE (--state-file): {e}")))?;
            check_state_dir(p)?;
            Some(Arc::new(store))
        }
        None => None,
    };
    let registry = Arc::new(Registry::default());
    if let Some(addr) = cfg.metrics_addr {
        let bound = crate::ops::serve(addr, Arc::clone(&registry), shared.shutdown.clone())
            .await
            .map_err(|e| {
                AppError::Runtime(format!("cannot listen on CTS_METRICS_ADDR {addr}: {e}"))
            })?;
        tracing::info!(addr = %bound, "serving /healthz and /metrics");
    }
    // Every cloud is resolved before any poller starts, so a bad second cloud
    // stops the start cleanly instead of aborting a running first poller.
    let mut tenants = Vec::with_capacity(cfg.clouds.len());
    for name in &cfg.clouds {
        tenants.push(connect(cfg, name.as_deref()).await?);
    }
    // Every poller is built (and a new one has saved its starting point)
    // before any of them sends.
    let mut pollers = Vec::with_capacity(tenants.len());
    for tenant in tenants {
        let metrics = registry.poller(&tenant.label);
        let dispatcher = shared.dispatcher(
            &tenant.label,
            tenant.context.clone(),
            Seen::new(cfg.dedup_capacity.get()),
            &metrics,
        );
        let poller = Poller::start(
            tenant.context.source.clone(),
            Arc::clone(&tenant.source),
            dispatcher,
            Planner::new(cfg.lateness, cfg.max_window),
            PollerSettings {
                look_back: cfg.look_back,
                poll_interval: cfg.poll_interval,
                shutdown_grace: cfg.shutdown_grace,
            },
            state.clone(),
            shared.shutdown.clone(),
            system_clock(),
        )
        .await
        .map_err(|e| {
            AppError::Config(format!(
                "CTS_STATE_FILE (--state-file): {e}; each new poller saves its starting point before it sends, so the file must be writable"
            ))
        })?;
        pollers.push((tenant.label.clone(), poller));
    }
    // Entries no poller of this configuration uses (a cloud removed, or its endpoint, project or
    // tracker changed) are kept as they are; a changed source's poller started CTS_FROM back.
    let used: Vec<&str> = pollers.iter().map(|(_, p)| p.key()).collect();
    let unused = state
        .as_ref()
        .map(|s| s.unused_keys(&used))
        .unwrap_or_default();
    if !unused.is_empty() {
        tracing::warn!(unused = ?unused,
            "the state file holds positions of event sources this configuration does not poll; they are kept unused. If a cloud's endpoint, project or tracker changed, its poller started CTS_FROM back: backfill the gap if needed");
    }
    let labels: std::collections::HashMap<String, String> = pollers
        .iter()
        .map(|(label, p)| (p.key().to_owned(), label.clone()))
        .collect();
    let pollers = pollers.into_iter().map(|(_, p)| p).collect();
    run_all(pollers, &shared.stop)
        .await
        .map_err(|(key, e)| match labels.get(&key) {
            Some(label) => AppError::Runtime(format!("cloud {label}: {e}")),
            None => AppError::Runtime(e.message),
        })
}

fn check_state_dir(p: &std::path::Path) -> Result<(), AppError> {
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if dir.is_dir() {
        Ok(())
    } else {
        Err(AppError::Config(format!(
            "invalid CTS_STATE_FILE (--state-file): the directory {} does not exist; create it or choose another path",
            dir.display()
        )))
    }
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C) raises the shutdown flag.
fn spawn_signal_listener(stop: Arc<watch::Sender<bool>>) {
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    futures::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = term => tracing::info!("SIGTERM received; stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; stopping"),
        }
        stop.send_replace(true);
    });
}
