//! The settings of `cts-exporter backfill`: an API range (checked against
//! CTS's seven-day retention) or an archive directory.

use std::path::PathBuf;
use std::time::Duration;

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

/// CTS keeps traces for seven days (cts-api.md §1.3).
pub const API_RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

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
                if since_ms < now_ms - API_RETENTION_MS {
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

/// An OTC region name: `eu-de`, `eu-nl`, `eu-ch2`.
pub fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A project id: 32 hexadecimal characters, as IAM issues them.
pub fn is_project_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: Option<&str>, region: Option<&str>, project: Option<&str>) -> BackfillArgs {
        BackfillArgs {
            since: dir.is_none().then(|| "1700000000000".to_string()),
            until: None,
            archive_dir: dir.map(str::to_string),
            progress_secs: "5".into(),
            region: region.map(str::to_string),
            project_id: project.map(str::to_string),
        }
    }

    #[test]
    fn region_and_project_id_are_checked_and_only_for_archives() {
        let dir = std::env::temp_dir();
        let dir = dir.to_str().expect("utf-8");
        let now = 1_700_000_100_000;
        let id = "0123456789abcdef0123456789ABCDEF";
        let c = BackfillConfig::from_args(&args(Some(dir), Some("eu-ch2"), Some(id)), now)
            .expect("valid");
        assert_eq!(c.region.as_deref(), Some("eu-ch2"));
        assert_eq!(c.project_id.as_deref(), Some(id));
        // Blank is unset.
        let c =
            BackfillConfig::from_args(&args(Some(dir), Some(" "), Some("")), now).expect("valid");
        assert_eq!((c.region, c.project_id), (None, None));
        for (region, project, setting, says) in [
            (
                Some("EU-DE"),
                None,
                "CTS_BACKFILL_REGION (--region)",
                "not a region",
            ),
            (
                Some("eu-de/.."),
                None,
                "CTS_BACKFILL_REGION (--region)",
                "not a region",
            ),
            (
                Some("ëu-de"),
                None,
                "CTS_BACKFILL_REGION (--region)",
                "not a region",
            ),
            (
                None,
                Some("eu-de_demo"),
                "CTS_BACKFILL_PROJECT_ID (--project-id)",
                "not its name",
            ),
            (
                None,
                Some("0123456789abcdef0123456789abcdeg"),
                "CTS_BACKFILL_PROJECT_ID (--project-id)",
                "not a project id",
            ),
        ] {
            let e = BackfillConfig::from_args(&args(Some(dir), region, project), now)
                .expect_err("refused");
            assert_eq!(e.setting, setting);
            assert!(e.message.contains(says), "{e}");
        }
        let e = BackfillConfig::from_args(&args(None, Some("eu-de"), None), now)
            .expect_err("API backfill");
        assert_eq!(e.setting, "CTS_BACKFILL_REGION (--region)");
        assert!(e.message.contains("--archive-dir"), "{e}");
        let e =
            BackfillConfig::from_args(&args(None, None, Some(id)), now).expect_err("API backfill");
        assert_eq!(e.setting, "CTS_BACKFILL_PROJECT_ID (--project-id)");
    }
}
