//! The settings of `cts-exporter backfill`: an API range (checked against
//! CTS's seven-day retention) or an archive directory.

use std::path::PathBuf;
use std::time::Duration;

use cts_client::archive::{is_hex_id as is_project_id, is_region};
use cts_client::follow::RETENTION_MS;

use super::values::{instant, int_in};
use super::ConfigError;
use crate::cli::BackfillArgs;

/// What `cts-exporter backfill` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackfillSource {
    /// The CTS API over `(since, until)` in epoch milliseconds.
    Api {
        /// Start, exclusive.
        since_ms: i64,
        /// End, exclusive.
        until_ms: i64,
    },
    /// Archive files under this directory.
    Archive(PathBuf),
}

/// The validated backfill settings.
#[derive(Debug, Clone)]
pub struct BackfillConfig {
    /// API range or archive directory.
    pub source: BackfillSource,
    /// Pause between progress lines.
    pub progress_every: Duration,
    /// `CTS_BACKFILL_REGION`: the archive's region when its paths do not tell it.
    pub region: Option<String>,
    /// `CTS_BACKFILL_PROJECT_ID`: the archive's project id.
    pub project_id: Option<String>,
}

impl BackfillConfig {
    /// Checks the backfill settings against the clock `now_ms`.
    pub fn from_args(a: &BackfillArgs, now_ms: i64) -> Result<BackfillConfig, ConfigError> {
        let progress_every = Duration::from_secs(int_in(
            "CTS_BACKFILL_PROGRESS_SECS (--progress-secs)",
            &a.progress_secs,
            1,
            3600,
            "e.g. --progress-secs 5",
        )?);
        let source = match (&a.archive_dir, &a.since) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "CTS_BACKFILL_ARCHIVE_DIR (--archive-dir)",
                    "give either --archive-dir (read files) or --since (read the API), not both",
                ))
            }
            (Some(dir), None) => {
                let path = PathBuf::from(dir);
                if !path.is_dir() {
                    return Err(ConfigError::new(
                        "CTS_BACKFILL_ARCHIVE_DIR (--archive-dir)",
                        format!("{dir:?} is not a readable directory; give the folder holding the CloudTraces files"),
                    ));
                }
                BackfillSource::Archive(path)
            }
            (None, Some(since)) => {
                let since_ms = instant("CTS_BACKFILL_SINCE (--since)", since)?;
                let until_ms = match &a.until {
                    Some(u) => instant("CTS_BACKFILL_UNTIL (--until)", u)?,
                    None => now_ms,
                };
                if since_ms < now_ms - RETENTION_MS {
                    return Err(ConfigError::new(
                        "CTS_BACKFILL_SINCE (--since)",
                        format!("{since:?} is more than 7 days ago and CTS keeps traces for 7 days; use a later time, or --archive-dir for older traces"),
                    ));
                }
                if until_ms <= since_ms {
                    return Err(ConfigError::new(
                        "CTS_BACKFILL_UNTIL (--until)",
                        format!("the end must be after the start (--since {since:?})"),
                    ));
                }
                BackfillSource::Api { since_ms, until_ms: until_ms.min(now_ms) }
            }
            (None, None) => {
                return Err(ConfigError::new(
                    "CTS_BACKFILL_SINCE (--since)",
                    "backfill needs a range, e.g. --since 2024-05-01T10:00:00Z [--until ...], or --archive-dir <DIR>",
                ))
            }
        };
        let region = archive_only(
            "CTS_BACKFILL_REGION (--region)",
            a.region.as_deref(),
            &source,
        )?;
        if let Some(r) = &region {
            if !is_region(r) {
                return Err(ConfigError::new(
                    "CTS_BACKFILL_REGION (--region)",
                    format!("{r:?} is not a region name; use lower-case letters, digits and `-`, e.g. --region eu-de"),
                ));
            }
        }
        let project_id = archive_only(
            "CTS_BACKFILL_PROJECT_ID (--project-id)",
            a.project_id.as_deref(),
            &source,
        )?;
        if let Some(p) = &project_id {
            if !is_project_id(p) {
                return Err(ConfigError::new(
                    "CTS_BACKFILL_PROJECT_ID (--project-id)",
                    format!("{p:?} is not a project id; give the project's id (32 hex characters, `openstack project show <name>`), not its name"),
                ));
            }
        }
        Ok(BackfillConfig {
            source,
            progress_every,
            region,
            project_id,
        })
    }
}

/// A setting that only an archive backfill reads; blank counts as unset.
fn archive_only(
    setting: &str,
    value: Option<&str>,
    source: &BackfillSource,
) -> Result<Option<String>, ConfigError> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if !matches!(source, BackfillSource::Archive(_)) {
        return Err(ConfigError::new(
            setting,
            "only an archive backfill (--archive-dir) reads it; an API backfill takes region and project from clouds.yaml",
        ));
    }
    Ok(Some(v.to_string()))
}
