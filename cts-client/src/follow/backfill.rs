//! Sending a past range once: from the CTS API window by window, or from
//! archive files (feature `archive`), into the same [`Deliver`] as the
//! poller, so a trace sent by a backfill and later seen by a poller is the
//! same id to de-duplicate. Memory stays bounded: the API is read window by
//! window, archive files are parsed incrementally on a blocking thread
//! feeding a small channel, and the [`Deliver`] bounds what is in flight.
//! Nothing is saved: a backfill interrupted is run again.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use super::{stopped, Deliver, FetchError, Fetched, Progress, TraceSource, Window};

/// Fetch failures of one window tolerated before an API backfill gives up.
pub const MAX_WINDOW_FAILURES: u32 = 8;

/// How a backfill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every trace was offered (the caller drains its [`Deliver`]).
    Done,
    /// Shutdown came first.
    Interrupted,
}

/// Offers every trace of `source` with `since_ms <= time < until_ms`, in
/// windows of at most `max_window` without overlap, into `deliver`; a
/// window that fails is fetched again (up to [`MAX_WINDOW_FAILURES`] times,
/// reported as [`Progress::Retrying`]). The error names the window's start.
pub async fn from_api<D: Deliver>(
    source: &dyn TraceSource,
    since_ms: i64,
    until_ms: i64,
    max_window: Duration,
    deliver: &mut D,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Ended, FetchError> {
    let step = i64::try_from(max_window.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    // Windows cover [from, to) without overlap, so no id read once can come
    // back from a later window: a full de-duplication set may drop any of them.
    deliver.seen_mut().protect(i64::MIN, i64::MAX);
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
                    _ = stopped(shutdown) => return Ok(Ended::Interrupted),
                    item = traces.next() => item,
                };
                match item {
                    None => break None,
                    Some(Ok(Fetched::Undecodable(u))) => tokio::select! {
                        biased;
                        _ = stopped(shutdown) => return Ok(Ended::Interrupted),
                        _ = deliver.undecodable(u) => {}
                    },
                    Some(Ok(Fetched::Trace(t))) => tokio::select! {
                        biased;
                        _ = stopped(shutdown) => return Ok(Ended::Interrupted),
                        _ = deliver.offer(t, w.to_ms) => {}
                    },
                    Some(Err(e)) => break Some(e),
                }
            };
            match failed {
                None => break,
                Some(e) if e.fatal || failures >= MAX_WINDOW_FAILURES => {
                    return Err(FetchError {
                        message: format!("stopped at {}: {e}", w.from_ms),
                        fatal: e.fatal,
                    });
                }
                Some(e) => {
                    failures += 1;
                    let wait = Duration::from_secs(1 << failures.min(5));
                    deliver.progress(Progress::Retrying {
                        error: &e,
                        failures,
                        retry_in: wait,
                    });
                    tokio::select! {
                        biased;
                        _ = stopped(shutdown) => return Ok(Ended::Interrupted),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
        from_ms = w.to_ms;
    }
    Ok(Ended::Done)
}

/// What an archive backfill read.
#[cfg(feature = "archive")]
#[derive(Debug, Default)]
pub struct ArchiveRead {
    /// Files that could not be read to the end, with why.
    pub failed: Vec<(std::path::PathBuf, String)>,
    /// Elements that were JSON but not a trace.
    pub bad: u64,
    /// Traces whose `resource_url` names another project: not offered.
    pub foreign: u64,
    /// Per file with such traces: the file, the first other project named, and how many.
    pub foreign_files: Vec<(std::path::PathBuf, String, u64)>,
}

/// Offers every trace of the archive `files` into `deliver`, except traces
/// whose `resource_url` names a project other than `project_id` (never sent
/// under a project they do not belong to; counted per file). Unreadable
/// files are skipped and returned with the reason.
#[cfg(feature = "archive")]
pub async fn from_archive<D: Deliver>(
    files: Vec<std::path::PathBuf>,
    project_id: String,
    deliver: &mut D,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(Ended, ArchiveRead), FetchError> {
    use crate::archive::{read_file, url_project_id, ReadError};

    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let reader = tokio::task::spawn_blocking(move || {
        let mut read = ArchiveRead::default();
        for path in files {
            let mut foreign_here = 0u64;
            let mut first_other = String::new();
            let r = read_file(&path, &mut |t| {
                let other = t
                    .resource_url
                    .as_deref()
                    .and_then(url_project_id)
                    .filter(|p| !p.eq_ignore_ascii_case(&project_id));
                if let Some(other) = other {
                    if foreign_here == 0 {
                        first_other = other.to_string();
                    }
                    foreign_here += 1;
                    return true;
                }
                tx.blocking_send(t).is_ok()
            });
            if foreign_here > 0 {
                read.foreign += foreign_here;
                read.foreign_files
                    .push((path.clone(), first_other, foreign_here));
            }
            match r {
                Ok(stats) => read.bad += stats.bad,
                Err(ReadError::Stopped) => break,
                Err(e) => {
                    tracing::debug!(file = %path.display(), error = %e, "archive file skipped");
                    read.failed.push((path, e.to_string()));
                }
            }
        }
        read
    });
    // Archive traces without a time are given the time of the read.
    let now = (super::system_clock())();
    let mut ended = Ended::Done;
    loop {
        let next = tokio::select! {
            biased;
            _ = stopped(shutdown) => { ended = Ended::Interrupted; break; }
            t = rx.recv() => t,
        };
        let Some(trace) = next else { break };
        tokio::select! {
            biased;
            _ = stopped(shutdown) => { ended = Ended::Interrupted; break; }
            _ = deliver.offer(trace, now) => {}
        }
    }
    drop(rx);
    let read = reader.await.map_err(|e| FetchError {
        message: format!("the archive reader failed: {e}"),
        fatal: true,
    })?;
    Ok((ended, read))
}
