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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cts_client::archive::{is_hex_id, layout, list_files, regional_cts_url};
use cts_client::follow::backfill::{from_api, from_archive, Ended};
use cts_client::follow::{Seen, TraceSource};
use url::Url;

use crate::app::{AppError, Shared};
use crate::cli::BackfillArgs;
use crate::config::{is_region, BackfillConfig, BackfillSource, Config, ConfigError};
use crate::event::EventContext;
use crate::metrics::PollerMetrics;
use crate::poller::Polled;
use crate::tenant::{configured_cloud, connect};

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
    let dispatcher = shared.dispatcher(
        ctx.clone(),
        Seen::new(shared.config.dedup_capacity.get()),
        &metrics,
    );
    let mut polled = Polled {
        name: "backfill".into(),
        dispatcher,
        metrics: Arc::clone(&metrics),
    };
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
                &mut polled,
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
            from_archive(files, ctx.project_id.clone(), &mut polled, &mut shutdown)
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
    let dispatcher = &mut polled.dispatcher;
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

/// The one value of a setting across the archive's files, or an error naming two that differ.
fn one_value(
    what: &str,
    values: &BTreeMap<String, PathBuf>,
    fix: &str,
) -> Result<Option<String>, AppError> {
    let mut it = values.iter();
    let first = it.next();
    if let (Some((a, pa)), Some((b, pb))) = (first, it.next()) {
        return Err(AppError::Config(format!(
            "invalid CTS_BACKFILL_ARCHIVE_DIR (--archive-dir): the archive mixes {what} {a:?} ({}) and {b:?} ({}); {fix}",
            pa.display(),
            pb.display()
        )));
    }
    Ok(first.map(|(v, _)| v.clone()))
}

/// The event context of an archive: from the flags, the OBS paths, the file
/// names and the traces, with IAM only for a project name without an id.
async fn archive_context(
    cfg: &Config,
    bcfg: &BackfillConfig,
    files: &[PathBuf],
    cloud: Option<&str>,
) -> Result<EventContext, AppError> {
    let l = layout(files);
    let (regions, trackers, names) = (l.regions, l.trackers, l.region_projects);
    let fix = "back up each one separately, e.g. --archive-dir <DIR>/CloudTraces/<region>/... for one region, tracker and project";
    let path_region = one_value("regions", &regions, fix)?;
    let tracker = one_value("trackers", &trackers, fix)?.unwrap_or_else(|| cfg.tracker.clone());
    let region = match (&bcfg.region, path_region) {
        (Some(flag), Some(path)) if *flag != path => {
            return Err(AppError::Config(format!(
                "invalid CTS_BACKFILL_REGION (--region): {flag:?} disagrees with the archive's CloudTraces/{path}/ folders; drop --region or give --region {path}"
            )))
        }
        (Some(flag), _) => flag.clone(),
        (None, Some(path)) if is_region(&path) => path,
        (None, Some(path)) => {
            return Err(AppError::Config(format!(
                "invalid CTS_BACKFILL_ARCHIVE_DIR (--archive-dir): the folder after CloudTraces, {path:?}, is not a region name; set CTS_BACKFILL_REGION (--region), e.g. --region eu-de"
            )))
        }
        (None, None) => {
            return Err(AppError::Config(
                "invalid CTS_BACKFILL_REGION (--region): the archive's paths have no CloudTraces/<region>/ folder to tell the region; set CTS_BACKFILL_REGION (--region), e.g. --region eu-de".into(),
            ))
        }
    };
    // A bare `<region>` in a file name says nothing about the project
    // (Huawei's newer examples use it for every file); `<region>-<project>` does.
    let mut parts = BTreeMap::new();
    for (n, f) in names {
        if n == region {
            continue;
        }
        match n.strip_prefix(&format!("{region}-")) {
            Some(p) if !p.is_empty() => {
                parts.entry(p.to_string()).or_insert(f);
            }
            _ => {
                return Err(AppError::Config(format!(
                    "invalid CTS_BACKFILL_ARCHIVE_DIR (--archive-dir): the file name {} says {n:?} but the region is {region:?}; back up each region separately, or set CTS_BACKFILL_REGION (--region) and CTS_BACKFILL_PROJECT_ID (--project-id)",
                    f.display()
                )))
            }
        }
    }
    let project_part = one_value("projects (file names <region>-<project>)", &parts, fix)?;
    let name_id = project_part
        .as_deref()
        .filter(|p| is_hex_id(p))
        .map(str::to_ascii_lowercase);
    let scan = files.to_vec();
    let want_project = bcfg.project_id.is_none() && name_id.is_none();
    let (traces_project, domain) =
        tokio::task::spawn_blocking(move || cts_client::archive::first_ids(&scan, want_project))
            .await
            .map_err(|e| AppError::Runtime(format!("the archive reader failed: {e}")))?;
    let domain = domain.unwrap_or_default();
    let offline = |project_id: &str| {
        EventContext::new(
            &regional_cts_url(&region),
            project_id,
            &domain,
            &region,
            &tracker,
        )
        .with_original_extensions(cfg.original_extensions)
    };
    if let Some(flag) = &bcfg.project_id {
        if let Some(id) = name_id.as_ref().filter(|id| !id.eq_ignore_ascii_case(flag)) {
            return Err(AppError::Config(format!(
                "invalid CTS_BACKFILL_PROJECT_ID (--project-id): {flag:?} disagrees with the project id {id:?} in the archive's file names; drop --project-id or back up that project's files separately"
            )));
        }
        return Ok(offline(flag));
    }
    if let Some(id) = name_id {
        return Ok(offline(&id));
    }
    if let Some(id) = traces_project {
        return Ok(offline(&id));
    }
    // Only a name is known: IAM can turn it into an id, if there are credentials.
    let project_name = match &project_part {
        Some(p) => format!("{region}_{p}"),
        None => format!("(not named; region {region})"),
    };
    let missing = |why: String| {
        AppError::Config(format!(
            "invalid CTS_BACKFILL_PROJECT_ID (--project-id): the archive names project {project_name:?} but no file name or trace holds its id, and {why}; set CTS_BACKFILL_PROJECT_ID (--project-id) to the project's id (32 hex characters)"
        ))
    };
    let cloud_cfg = configured_cloud(cloud)
        .map_err(|e| missing(format!("no clouds.yaml credentials can look it up ({e})")))?;
    if cloud_cfg.region != region {
        return Err(missing(format!(
            "the cloud {:?} in clouds.yaml is in region {:?}, not {region:?}",
            cloud_cfg.name, cloud_cfg.region
        )));
    }
    if let (Some(_), Some(configured)) = (&project_part, &cloud_cfg.project_name) {
        if *configured != project_name {
            return Err(missing(format!(
                "the cloud {:?} in clouds.yaml is for project {configured:?}",
                cloud_cfg.name
            )));
        }
    }
    tracing::info!(project = %project_name, "asking IAM for the archive's project id");
    let tenant = connect(cfg, cloud).await?;
    let endpoint = Url::parse(&tenant.context.source)
        .map_err(|e| AppError::Runtime(format!("the tenant's source is not a URL: {e}")))?;
    let mut ctx = tenant.context.clone();
    ctx.source = EventContext::source_uri(&endpoint, &ctx.project_id, &tracker);
    ctx.tracker = tracker;
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
