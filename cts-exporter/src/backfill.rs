//! `cts-exporter backfill`: send a past range once, from the API or from archive files.
//!
//! Both readers feed the same [`Dispatcher`] as the poller (same events,
//! same source, same de-duplication and delivery guarantees), so a trace
//! sent by backfill and later seen by the poller is the same `(source, id)`
//! at the sink. Memory stays bounded: the API is read window by window,
//! archive files are parsed incrementally on a blocking thread feeding a
//! small channel, and the pipeline bounds what is in flight. A progress line
//! goes to stderr every few seconds and a summary at the end.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::app::{AppError, Shared};
use crate::archive::{list_files, read_file, ReadError};
use crate::cli::BackfillArgs;
use crate::config::{BackfillConfig, BackfillSource, ConfigError};
use crate::dispatcher::Dispatcher;
use crate::metrics::PollerMetrics;
use crate::poller::stopped;
use crate::seen::Seen;
use crate::source::Fetched;
use crate::tenant::connect;
use crate::window::Window;

/// Fetch failures of one window tolerated before the backfill gives up.
const MAX_WINDOW_FAILURES: u32 = 8;

/// What a backfill run did, for the summary.
#[derive(Debug, Default)]
struct Report {
    files: usize,
    files_skipped: usize,
    files_failed: Vec<(PathBuf, String)>,
    bad_traces: u64,
    interrupted: bool,
}

/// Runs a backfill to the end (or until SIGTERM).
pub async fn run(shared: &Shared, args: &BackfillArgs) -> Result<(), AppError> {
    let cfg = &shared.config;
    let bcfg = BackfillConfig::from_args(args, chrono::Utc::now().timestamp_millis())?;
    if cfg.clouds.len() > 1 {
        return Err(ConfigError::new(
            "OS_CLOUD (--cloud)",
            "backfill works on one cloud at a time; set OS_CLOUD to a single name",
        )
        .into());
    }
    let tenant = connect(cfg, cfg.clouds.first().and_then(|c| c.as_deref())).await?;
    let metrics = Arc::new(PollerMetrics::default());
    let mut dispatcher = shared.dispatcher(&tenant, Seen::new(cfg.dedup_capacity.get()), &metrics);
    let mut shutdown = shared.shutdown.clone();
    let started = Instant::now();
    let progress = spawn_progress(Arc::clone(&metrics), bcfg.progress_every, started);
    let mut report = Report::default();
    let outcome = match &bcfg.source {
        BackfillSource::Api { since_ms, until_ms } => {
            tracing::info!(source = %tenant.context.source, since_ms, until_ms, "backfill from the CTS API");
            from_api(
                &*tenant.source,
                cfg.max_window,
                *since_ms,
                *until_ms,
                &mut dispatcher,
                &mut shutdown,
                &mut report,
            )
            .await
        }
        BackfillSource::Archive(dir) => {
            tracing::info!(source = %tenant.context.source, dir = %dir.display(), "backfill from archive files");
            from_archive(dir.clone(), &mut dispatcher, &mut shutdown, &mut report).await
        }
    };
    if report.interrupted {
        let abandoned = dispatcher.stop(cfg.shutdown_grace).await;
        tracing::warn!(abandoned, "backfill interrupted");
    } else {
        dispatcher.drain().await;
    }
    progress.abort();
    eprintln!("{}", summary(&metrics, &report, started.elapsed()));
    outcome?;
    let rejected = metrics.rejected.load(Ordering::Relaxed);
    if report.interrupted {
        Err(AppError::Runtime("backfill interrupted before the end; run it again (already sent traces are sent again, the sink is idempotent)".into()))
    } else if rejected > 0 || !report.files_failed.is_empty() || report.bad_traces > 0 {
        Err(AppError::Runtime(format!(
            "backfill finished with {rejected} refused events, {} unreadable files and {} undecodable traces; see the log{}",
            report.files_failed.len(),
            report.bad_traces,
            if shared.dead_letter.is_some() { " and the dead-letter file" } else { "" }
        )))
    } else {
        Ok(())
    }
}

async fn from_api(
    source: &dyn crate::source::TraceSource,
    max_window: Duration,
    since_ms: i64,
    until_ms: i64,
    dispatcher: &mut Dispatcher,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    report: &mut Report,
) -> Result<(), AppError> {
    let step = i64::try_from(max_window.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    // Windows cover [from, to) without overlap, so no id read once can come
    // back from a later window: a full de-duplication set may drop any of them.
    dispatcher.seen_mut().protect(i64::MIN, i64::MAX);
    let mut from_ms = since_ms;
    while from_ms < until_ms {
        // Windows are exclusive at both ends: start one millisecond early.
        let w = Window {
            from_ms: from_ms - 1,
            to_ms: from_ms.saturating_add(step).min(until_ms),
        };
        let mut failures = 0;
        loop {
            let mut traces = source.traces(w);
            let failed = loop {
                let item = tokio::select! {
                    biased;
                    _ = stopped(shutdown) => { report.interrupted = true; return Ok(()); }
                    item = traces.next() => item,
                };
                match item {
                    None => break None,
                    Some(Ok(Fetched::Undecodable(u))) => {
                        if dispatcher.undecodable(u) {
                            report.bad_traces += 1;
                        }
                    }
                    Some(Ok(Fetched::Trace(t))) => tokio::select! {
                        biased;
                        _ = stopped(shutdown) => { report.interrupted = true; return Ok(()); }
                        _ = dispatcher.offer(t, w.to_ms) => {}
                    },
                    Some(Err(e)) => break Some(e),
                }
            };
            match failed {
                None => break,
                Some(e) if e.fatal || failures >= MAX_WINDOW_FAILURES => {
                    return Err(AppError::Runtime(format!(
                        "backfill stopped at {}: {e}",
                        w.from_ms
                    )));
                }
                Some(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, failures, "fetch failed; fetching the window again");
                    tokio::time::sleep(Duration::from_secs(1 << failures.min(5))).await;
                }
            }
        }
        from_ms = w.to_ms;
    }
    Ok(())
}

async fn from_archive(
    dir: PathBuf,
    dispatcher: &mut Dispatcher,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    report: &mut Report,
) -> Result<(), AppError> {
    let (files, skipped) = list_files(&dir)
        .map_err(|e| AppError::Runtime(format!("cannot list {}: {e}", dir.display())))?;
    report.files = files.len();
    report.files_skipped = skipped.len();
    tracing::info!(
        files = files.len(),
        skipped = skipped.len(),
        "archive files found"
    );
    let (tx, mut rx) = mpsc::channel(1024);
    let reader = tokio::task::spawn_blocking(move || {
        let mut failed = Vec::new();
        let mut bad = 0;
        for path in files {
            let r = read_file(&path, &mut |t| tx.blocking_send(t).is_ok());
            match r {
                Ok(stats) => bad += stats.bad,
                Err(ReadError::Stopped) => break,
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "archive file skipped");
                    failed.push((path, e.to_string()));
                }
            }
        }
        (failed, bad)
    });
    let now = chrono::Utc::now().timestamp_millis();
    loop {
        let next = tokio::select! {
            biased;
            _ = stopped(shutdown) => { report.interrupted = true; break; }
            t = rx.recv() => t,
        };
        let Some(trace) = next else { break };
        tokio::select! {
            biased;
            _ = stopped(shutdown) => { report.interrupted = true; break; }
            _ = dispatcher.offer(trace, now) => {}
        }
    }
    drop(rx);
    let (failed, bad) = reader
        .await
        .map_err(|e| AppError::Runtime(format!("the archive reader failed: {e}")))?;
    report.files_failed = failed;
    report.bad_traces = bad;
    Ok(())
}

fn spawn_progress(
    m: Arc<PollerMetrics>,
    every: Duration,
    started: Instant,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let secs = started.elapsed().as_secs_f64().max(0.001);
            let acked = m.acked.load(Ordering::Relaxed);
            eprintln!(
                "backfill: {} read, {} sent, {acked} acknowledged, {} refused, {} duplicates, {:.0} events/s",
                m.fetched.load(Ordering::Relaxed),
                m.sent.load(Ordering::Relaxed),
                m.rejected.load(Ordering::Relaxed),
                m.duplicates.load(Ordering::Relaxed),
                acked as f64 / secs
            );
        }
    })
}

fn summary(m: &PollerMetrics, r: &Report, took: Duration) -> String {
    let acked = m.acked.load(Ordering::Relaxed);
    let mut s = format!(
        "backfill {}: {} traces read, {} sent, {acked} acknowledged, {} refused, {} duplicates skipped, {} retries in {:.1}s ({:.0} events/s)",
        if r.interrupted { "interrupted" } else { "done" },
        m.fetched.load(Ordering::Relaxed),
        m.sent.load(Ordering::Relaxed),
        m.rejected.load(Ordering::Relaxed),
        m.duplicates.load(Ordering::Relaxed),
        m.retries.load(Ordering::Relaxed),
        took.as_secs_f64(),
        acked as f64 / took.as_secs_f64().max(0.001),
    );
    if r.files > 0 || r.files_skipped > 0 {
        s.push_str(&format!(
            "; files: {} read, {} skipped (digest or not .json/.json.gz), {} unreadable, {} undecodable traces",
            r.files - r.files_failed.len(),
            r.files_skipped,
            r.files_failed.len(),
            r.bad_traces
        ));
    }
    for (p, e) in &r.files_failed {
        s.push_str(&format!("\n  unreadable: {}: {e}", p.display()));
    }
    s
}
