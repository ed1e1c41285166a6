//! `cts-exporter backfill`: send a past range once, from the API or from archive files.
//!
//! The reading is `cts_client::follow::backfill` (the API window by window,
//! archive files incrementally); both feed the same dispatcher as the poller
//! (same events, same source, same de-duplication and delivery guarantees),
//! so a trace sent by backfill and later seen by the poller is the same
//! `(source, id)` at the sink. Here: the event context, a progress line on
//! stderr every few seconds and a summary at the end.
//!
//! An archive needs no API: its region, tracker and project come from the
//! OBS path, the file names, the traces' `resource_url` or `--region` /
//! `--project-id`, and its source uses the region's CTS host
//! (docs/events.md, "Archive backfills without IAM"). IAM is asked only to
//! turn a project name into an id. An archive mixing regions, trackers or
//! projects is refused before anything is sent.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cts_client::archive::{identify, list_files, Hints, IdentifyError};
use cts_client::follow::backfill::{from_api, from_archive, Ended};
use cts_client::follow::{Deliver, Seen, TraceSource};
use url::Url;

use crate::app::{AppError, Shared};
use crate::cli::BackfillArgs;
use crate::config::{BackfillConfig, BackfillSource, Config, ConfigError};
use crate::metrics::PollerMetrics;
use crate::tenant::{configured_cloud, connect};
use cts_client::event::EventContext;

/// What a backfill run did, for the summary.
#[derive(Debug, Default)]
struct Report {
    files: usize,
    files_skipped: usize,
    files_failed: Vec<(PathBuf, String)>,
    bad_traces: u64,
    /// Archive traces whose `resource_url` names another project: not sent.
    foreign: u64,
    interrupted: bool,
}

/// What a backfill reads.
enum Input {
    /// The CTS API over `(since, until)`.
    Api(Arc<dyn TraceSource>, i64, i64),
    /// These archive files under this directory.
    Archive(PathBuf, Vec<PathBuf>),
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
    let metrics = Arc::new(PollerMetrics::default());
    let mut report = Report::default();
    let cloud = cfg.clouds.first().and_then(|c| c.as_deref());
    // The API needs IAM; an archive does not, unless a project name must become an id.
    let (ctx, input) = match &bcfg.source {
        BackfillSource::Api { since_ms, until_ms } => {
            let tenant = connect(cfg, cloud).await?;
            (
                tenant.context.clone(),
                Input::Api(tenant.source, *since_ms, *until_ms),
            )
        }
        BackfillSource::Archive(dir) => {
            let (files, skipped) = list_files(dir)
                .map_err(|e| AppError::Runtime(format!("cannot list {}: {e}", dir.display())))?;
            let ctx = archive_context(cfg, &bcfg, &files, cloud).await?;
            report.files = files.len();
            report.files_skipped = skipped.len();
            (ctx, Input::Archive(dir.clone(), files))
        }
    };
    let mut dispatcher = shared.dispatcher(
        "backfill",
        ctx.clone(),
        Seen::new(shared.config.dedup_capacity.get()),
        &metrics,
    );
    let mut shutdown = shared.shutdown.clone();
    let started = Instant::now();
    let progress = spawn_progress(Arc::clone(&metrics), bcfg.progress_every, started);
    let outcome = match input {
        Input::Api(source, since_ms, until_ms) => {
            tracing::info!(source = %ctx.source, since_ms, until_ms, "backfill from the CTS API");
            let before = metrics.undecodable.load(Ordering::Relaxed);
            let r = from_api(
                &*source,
                since_ms,
                until_ms,
                cfg.max_window,
                &mut dispatcher,
                &mut shutdown,
            )
            .await;
            report.bad_traces = metrics.undecodable.load(Ordering::Relaxed) - before;
            r.map_err(|e| AppError::Runtime(format!("backfill {e}")))
        }
        Input::Archive(dir, files) => {
            tracing::info!(
                source = %ctx.source,
                project = %ctx.project_id,
                region = %ctx.region,
                tracker = %ctx.tracker,
                dir = %dir.display(),
                files = files.len(),
                skipped = report.files_skipped,
                "backfill from archive files"
            );
            from_archive(files, ctx.project_id.clone(), &mut dispatcher, &mut shutdown)
                .await
                .map(|(ended, read)| {
                    for (file, other, n) in &read.foreign_files {
                        tracing::error!(file = %file.display(), trace_project = %other, traces = n, project = %ctx.project_id,
                            "archive traces of another project; not sent");
                    }
                    for (file, e) in &read.failed {
                        tracing::error!(file = %file.display(), error = %e, "archive file skipped");
                    }
                    report.files_failed = read.failed;
                    report.bad_traces = read.bad;
                    report.foreign = read.foreign;
                    ended
                })
                .map_err(|e| AppError::Runtime(e.message))
        }
    };
    report.interrupted = matches!(outcome, Ok(Ended::Interrupted));
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
    } else if rejected > 0
        || !report.files_failed.is_empty()
        || report.bad_traces > 0
        || report.foreign > 0
    {
        Err(AppError::Runtime(format!(
            "backfill finished with {rejected} refused events, {} unreadable files, {} undecodable traces and {} traces of another project (not sent; back them up with --project-id <their project>); see the log{}",
            report.files_failed.len(),
            report.bad_traces,
            report.foreign,
            if shared.dead_letter.is_some() { " and the dead-letter file" } else { "" }
        )))
    } else {
        Ok(())
    }
}

/// An archive's identity problem, as the setting to change.
fn identify_error(e: IdentifyError) -> AppError {
    let fix = "back up each one separately, e.g. --archive-dir <DIR>/CloudTraces/<region>/... for one region, tracker and project";
    AppError::Config(match &e {
        IdentifyError::Mixed { .. } => format!("invalid CTS_BACKFILL_ARCHIVE_DIR (--archive-dir): {e}; {fix}"),
        IdentifyError::RegionDisagrees { given, path } => format!("invalid CTS_BACKFILL_REGION (--region): {given:?} disagrees with the archive's CloudTraces/{path}/ folders; drop --region or give --region {path}"),
        IdentifyError::NotARegion { .. } => format!("invalid CTS_BACKFILL_ARCHIVE_DIR (--archive-dir): {e}; set CTS_BACKFILL_REGION (--region), e.g. --region eu-de"),
        IdentifyError::NoRegion => format!("invalid CTS_BACKFILL_REGION (--region): {e}; set CTS_BACKFILL_REGION (--region), e.g. --region eu-de"),
        IdentifyError::FileNameRegion { .. } => format!("invalid CTS_BACKFILL_ARCHIVE_DIR (--archive-dir): {e}; back up each region separately, or set CTS_BACKFILL_REGION (--region) and CTS_BACKFILL_PROJECT_ID (--project-id)"),
        IdentifyError::ProjectDisagrees { given, in_names } => format!("invalid CTS_BACKFILL_PROJECT_ID (--project-id): {given:?} disagrees with the project id {in_names:?} in the archive's file names; drop --project-id or back up that project's files separately"),
    })
}

/// The event context of an archive ([`identify`]), with IAM only for a project name without an id.
async fn archive_context(
    cfg: &Config,
    bcfg: &BackfillConfig,
    files: &[PathBuf],
    cloud: Option<&str>,
) -> Result<EventContext, AppError> {
    let hints = Hints {
        region: bcfg.region.clone(),
        project_id: bcfg.project_id.clone(),
        default_tracker: cfg.tracker.clone(),
    };
    let scan = files.to_vec();
    let id = tokio::task::spawn_blocking(move || identify(&scan, &hints))
        .await
        .map_err(|e| AppError::Runtime(format!("the archive reader failed: {e}")))?
        .map_err(identify_error)?;
    if let Some(ctx) = EventContext::of_archive(&id) {
        return Ok(ctx.with_original_extensions(cfg.original_extensions));
    }
    // Only a name is known: IAM can turn it into an id, if there are credentials.
    let project_name = id.project_name();
    let missing = |why: String| {
        AppError::Config(format!(
            "invalid CTS_BACKFILL_PROJECT_ID (--project-id): the archive names project {project_name:?} but no file name or trace holds its id, and {why}; set CTS_BACKFILL_PROJECT_ID (--project-id) to the project's id (32 hex characters)"
        ))
    };
    let cloud_cfg = configured_cloud(cloud)
        .map_err(|e| missing(format!("no clouds.yaml credentials can look it up ({e})")))?;
    if let Some(why) = id.cloud_mismatch(&cloud_cfg) {
        return Err(missing(why));
    }
    tracing::info!(project = %project_name, "asking IAM for the archive's project id");
    let tenant = connect(cfg, cloud).await?;
    let endpoint = Url::parse(&tenant.context.source)
        .map_err(|e| AppError::Runtime(format!("the tenant's source is not a URL: {e}")))?;
    let mut ctx = tenant.context.clone();
    ctx.source = EventContext::source_uri(&endpoint, &ctx.project_id, &id.tracker);
    ctx.tracker = id.tracker;
    Ok(ctx)
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
