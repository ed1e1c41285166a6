//! Turns the raw command line ([`crate::cli`]) into a [`Config`] whose fields
//! already mean something (`Url`, `Duration`, `NonZeroUsize`, ...).
//!
//! Each check answers with a [`ConfigError`] naming the setting (environment
//! variable and flag), what is allowed, an example and the value received;
//! `main` turns it into exit code 78, as the original exporter did.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use cts_client::ApiVersion;
use url::Url;

use crate::cli::{BackfillArgs, CommonArgs};
use crate::delivery::retry::RetryPolicy;
use crate::overrides::Overrides;

/// The longest look-back `CTS_FROM` allows, in minutes (the original's `maxFrom`).
pub const MAX_FROM_MINUTES: u64 = 10_800;

/// A setting that cannot be used, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Environment variable and flag, e.g. `CTS_FROM (--from)`.
    pub setting: String,
    /// What is wrong and how to fix it; names the received value when it is not secret.
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error about `setting`.
    pub fn new(setting: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            setting: setting.to_string(),
            message: message.into(),
        }
    }
}

/// Server-side filters sent with every trace-list query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// `service_type`, e.g. `ECS`.
    pub service: Option<String>,
    /// `trace_name`, e.g. `createServer`.
    pub operation: Option<String>,
    /// `trace_rating`: `normal`, `warning` or `incident`.
    pub rating: Option<String>,
    /// `user` (name).
    pub user: Option<String>,
    /// `resource_type`.
    pub resource_type: Option<String>,
    /// `resource_id`.
    pub resource_id: Option<String>,
    /// `resource_name`.
    pub resource_name: Option<String>,
}

/// How a CloudEvent travels over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMode {
    /// Attributes in `ce-*` headers, the trace JSON as body (the default).
    Binary,
    /// The whole event as `application/cloudevents+json`.
    Structured,
}

/// Where events go.
#[derive(Debug, Clone)]
pub enum Output {
    /// POST them to the sink (`CTS_X_PNP=true`).
    Sink(Box<SinkConfig>),
    /// Print them on stdout, one JSON event per line (`CTS_X_PNP=false`).
    Print,
}

/// Everything the HTTP delivery needs.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// `K_SINK`.
    pub url: Url,
    /// Binary or structured content mode.
    pub mode: EventMode,
    /// Extra CA certificates (PEM) for an https sink.
    pub ca_pem: Option<Vec<u8>>,
    /// Bearer token file, re-read when it changes.
    pub oidc_token_file: Option<PathBuf>,
    /// Events in flight at once.
    pub concurrency: NonZeroUsize,
    /// Backoff between attempts.
    pub retry: RetryPolicy,
    /// Timeout of one request.
    pub request_timeout: Duration,
}

/// The validated configuration of one process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Cloud names from `OS_CLOUD`; `[None]` lets otc-auth pick the only cloud.
    pub clouds: Vec<Option<String>>,
    /// `OS_DEBUG`.
    pub debug: bool,
    /// `CTS_TRACKER`.
    pub tracker: String,
    /// `CTS_API_VERSION`.
    pub api: ApiVersion,
    /// Server-side filters.
    pub filters: Filters,
    /// Page size for trace-list queries.
    pub page_size: u32,
    /// `CTS_FROM`: how far the first poll looks back without state.
    pub look_back: Duration,
    /// Pause between polls once caught up.
    pub poll_interval: Duration,
    /// How far each window reaches back before the watermark.
    pub lateness: Duration,
    /// Longest window per query while catching up.
    pub max_window: Duration,
    /// Watermark state file.
    pub state_file: Option<PathBuf>,
    /// Dead-letter file for events refused for good.
    pub dead_letter_file: Option<PathBuf>,
    /// Sink or stdout.
    pub output: Output,
    /// `K_CE_OVERRIDES`.
    pub overrides: Overrides,
    /// Cap on remembered trace ids.
    pub dedup_capacity: NonZeroUsize,
    /// Address of /healthz and /metrics, `None` when off.
    pub metrics_addr: Option<SocketAddr>,
    /// Bound on finishing in-flight sends after SIGTERM.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Checks every shared setting.
    pub fn from_args(a: &CommonArgs) -> Result<Config, ConfigError> {
        let from_minutes = int_in(
            "CTS_FROM (--from)",
            &a.from_minutes,
            1,
            MAX_FROM_MINUTES,
            "whole minutes, e.g. CTS_FROM=5",
        )?;
        let look_back = Duration::from_secs(from_minutes * 60);
        let poll_interval = match &a.poll_interval_secs {
            Some(v) => Duration::from_secs(int_in(
                "CTS_POLL_INTERVAL_SECS (--poll-interval-secs)",
                v,
                1,
                MAX_FROM_MINUTES * 60,
                "whole seconds, e.g. CTS_POLL_INTERVAL_SECS=30",
            )?),
            None => look_back,
        };
        let x_pnp = boolean("CTS_X_PNP (--x-pnp)", &a.x_pnp)?;
        let output = if x_pnp {
            Output::Sink(Box::new(sink_config(a)?))
        } else {
            Output::Print
        };
        Ok(Config {
            clouds: clouds(a.os_cloud.as_deref())?,
            debug: boolean("OS_DEBUG (--debug)", &a.os_debug)?,
            tracker: tracker(&a.tracker)?,
            api: api_choice(&a.api_version)?,
            filters: filters(a)?,
            page_size: int_in(
                "CTS_PAGE_SIZE (--page-size)",
                &a.page_size,
                1,
                200,
                "e.g. CTS_PAGE_SIZE=200",
            )? as u32,
            look_back,
            poll_interval,
            lateness: Duration::from_secs(int_in(
                "CTS_LATENESS_SECS (--lateness-secs)",
                &a.lateness_secs,
                0,
                86_400,
                "whole seconds, e.g. CTS_LATENESS_SECS=180",
            )?),
            max_window: Duration::from_secs(int_in(
                "CTS_MAX_WINDOW_SECS (--max-window-secs)",
                &a.max_window_secs,
                60,
                86_400,
                "whole seconds, e.g. CTS_MAX_WINDOW_SECS=3600",
            )?),
            state_file: path_opt("CTS_STATE_FILE (--state-file)", a.state_file.as_deref())?,
            dead_letter_file: path_opt(
                "CTS_DEAD_LETTER_FILE (--dead-letter-file)",
                a.dead_letter_file.as_deref(),
            )?,
            output,
            overrides: match a.ce_overrides.as_deref() {
                Some(raw) => Overrides::parse(raw)?,
                None => Overrides::default(),
            },
            dedup_capacity: nonzero(
                "CTS_DEDUP_CAPACITY (--dedup-capacity)",
                &a.dedup_capacity,
                "e.g. CTS_DEDUP_CAPACITY=100000",
            )?,
            metrics_addr: metrics_addr(&a.metrics_addr)?,
            shutdown_grace: Duration::from_secs(int_in(
                "CTS_SHUTDOWN_GRACE_SECS (--shutdown-grace-secs)",
                &a.shutdown_grace_secs,
                0,
                3600,
                "whole seconds, e.g. CTS_SHUTDOWN_GRACE_SECS=10",
            )?),
        })
    }
}

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
        Ok(BackfillConfig {
            source,
            progress_every,
        })
    }
}

fn sink_config(a: &CommonArgs) -> Result<SinkConfig, ConfigError> {
    const SINK: &str = "K_SINK (--sink)";
    let raw = a.sink.as_deref().map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err(ConfigError::new(
            SINK,
            "no sink is set; set K_SINK=http://broker-ingress.knative-eventing.svc/ns/default (Knative injects it), or CTS_X_PNP=false to print events instead",
        ));
    }
    let url = Url::parse(raw).map_err(|e| {
        ConfigError::new(
            SINK,
            format!(
                "{raw:?} is not a URL ({e}); expected e.g. http://sink.default.svc.cluster.local"
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            SINK,
            format!("{raw:?} is not an http(s) URL with a host; expected e.g. https://sink.default.svc.cluster.local"),
        ));
    }
    let mode = match a.event_mode.trim().to_ascii_lowercase().as_str() {
        "binary" => EventMode::Binary,
        "structured" => EventMode::Structured,
        other => {
            return Err(ConfigError::new(
                "CTS_EVENT_MODE (--event-mode)",
                format!("expected binary or structured, got {other:?}"),
            ))
        }
    };
    let initial = int_in(
        "CTS_RETRY_INITIAL_MS (--retry-initial-ms)",
        &a.retry_initial_ms,
        1,
        3_600_000,
        "e.g. 200",
    )?;
    let max = int_in(
        "CTS_RETRY_MAX_MS (--retry-max-ms)",
        &a.retry_max_ms,
        1,
        3_600_000,
        "e.g. 30000",
    )?;
    if max < initial {
        return Err(ConfigError::new(
            "CTS_RETRY_MAX_MS (--retry-max-ms)",
            format!("must be at least CTS_RETRY_INITIAL_MS ({initial}), got {max}"),
        ));
    }
    Ok(SinkConfig {
        url,
        mode,
        ca_pem: a.ca_certs.as_deref().map(ca_pem).transpose()?,
        oidc_token_file: path_opt(
            "K_OIDC_TOKEN_FILE (--oidc-token-file)",
            Some(&a.oidc_token_file),
        )?,
        concurrency: nonzero(
            "CTS_DELIVERY_CONCURRENCY (--concurrency)",
            &a.concurrency,
            "e.g. 64",
        )?,
        retry: RetryPolicy::new(Duration::from_millis(initial), Duration::from_millis(max)),
        request_timeout: Duration::from_secs(int_in(
            "CTS_REQUEST_TIMEOUT_SECS (--request-timeout-secs)",
            &a.request_timeout_secs,
            1,
            3600,
            "e.g. 30",
        )?),
    })
}

/// `K_CA_CERTS` is PEM text as Knative injects it, or a path to a PEM file.
fn ca_pem(raw: &str) -> Result<Vec<u8>, ConfigError> {
    const SETTING: &str = "K_CA_CERTS (--ca-certs)";
    let pem = if raw.contains("-----BEGIN") {
        raw.as_bytes().to_vec()
    } else {
        std::fs::read(raw.trim()).map_err(|e| {
            ConfigError::new(
                SETTING,
                format!(
                    "expected PEM certificates or a readable PEM file; cannot read {raw:?}: {e}"
                ),
            )
        })?
    };
    let invalid = || {
        ConfigError::new(
            SETTING,
            "holds no valid PEM certificate; give the CA bundle starting with -----BEGIN CERTIFICATE-----",
        )
    };
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| invalid())?;
    if certs.is_empty() {
        return Err(invalid());
    }
    // The DER inside is only checked when a client trusts it.
    let mut builder = reqwest::Client::builder();
    for c in certs {
        builder = builder.add_root_certificate(c);
    }
    builder.build().map(|_| pem).map_err(|_| invalid())
}

fn clouds(raw: Option<&str>) -> Result<Vec<Option<String>>, ConfigError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(vec![None]);
    };
    let mut out: Vec<Option<String>> = Vec::new();
    for name in raw.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(ConfigError::new(
                "OS_CLOUD (--cloud)",
                format!("{raw:?} has an empty cloud name; use names from clouds.yaml separated by commas, e.g. OS_CLOUD=prod,staging"),
            ));
        }
        if out.iter().any(|c| c.as_deref() == Some(name)) {
            return Err(ConfigError::new(
                "OS_CLOUD (--cloud)",
                format!("cloud {name:?} is listed twice in {raw:?}"),
            ));
        }
        out.push(Some(name.to_string()));
    }
    Ok(out)
}

fn tracker(raw: &str) -> Result<String, ConfigError> {
    let t = raw.trim();
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(t.to_string())
    } else {
        Err(ConfigError::new(
            "CTS_TRACKER (--tracker)",
            format!("expected a tracker name of letters, digits, '_', '-' or '.', e.g. CTS_TRACKER=system; got {raw:?}"),
        ))
    }
}

fn api_choice(raw: &str) -> Result<ApiVersion, ConfigError> {
    raw.parse().map_err(|_| {
        ConfigError::new(
            "CTS_API_VERSION (--api-version)",
            format!("expected v3, v2 or v1, e.g. CTS_API_VERSION=v3; got {raw:?}"),
        )
    })
}

fn filters(a: &CommonArgs) -> Result<Filters, ConfigError> {
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let rating = match clean(&a.rating) {
        Some(r) => {
            let lower = r.to_ascii_lowercase();
            if !matches!(lower.as_str(), "normal" | "warning" | "incident") {
                return Err(ConfigError::new(
                    "CTS_RATING (--rating)",
                    format!("expected normal, warning or incident; got {r:?}"),
                ));
            }
            Some(lower)
        }
        None => None,
    };
    Ok(Filters {
        service: clean(&a.service),
        operation: clean(&a.operation),
        rating,
        user: clean(&a.user),
        resource_type: clean(&a.resource_type),
        resource_id: clean(&a.resource_id),
        resource_name: clean(&a.resource_name),
    })
}

fn metrics_addr(raw: &str) -> Result<Option<SocketAddr>, ConfigError> {
    let t = raw.trim();
    if t.eq_ignore_ascii_case("off") || t.is_empty() {
        return Ok(None);
    }
    t.parse().map(Some).map_err(|_| {
        ConfigError::new(
            "CTS_METRICS_ADDR (--metrics-addr)",
            format!("expected ip:port or off, e.g. CTS_METRICS_ADDR=0.0.0.0:9090; got {raw:?}"),
        )
    })
}

fn path_opt(setting: &str, raw: Option<&str>) -> Result<Option<PathBuf>, ConfigError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) if p.ends_with('/') => Err(ConfigError::new(
            setting,
            format!("expected a file path, got the directory {p:?}"),
        )),
        Some(p) => Ok(Some(PathBuf::from(p))),
    }
}

/// Booleans as Go's `strconv.ParseBool` and common spellings accept them.
pub fn boolean(setting: &str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "on" => Ok(true),
        "false" | "f" | "0" | "no" | "n" | "off" | "" => Ok(false),
        _ => Err(ConfigError::new(
            setting,
            format!("expected true or false; got {raw:?}"),
        )),
    }
}

fn int_in(setting: &str, raw: &str, min: u64, max: u64, example: &str) -> Result<u64, ConfigError> {
    match raw.trim().parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(ConfigError::new(
            setting,
            format!("expected a whole number from {min} to {max} ({example}); got {raw:?}"),
        )),
    }
}

fn nonzero(setting: &str, raw: &str, example: &str) -> Result<NonZeroUsize, ConfigError> {
    let v = int_in(setting, raw, 1, 100_000_000, example)?;
    NonZeroUsize::new(v as usize).ok_or_else(|| ConfigError::new(setting, "must be at least 1"))
}

/// An instant as RFC 3339 or epoch milliseconds.
fn instant(setting: &str, raw: &str) -> Result<i64, ConfigError> {
    let t = raw.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .map_err(|_| {
            ConfigError::new(
                setting,
                format!("expected an RFC 3339 time such as 2024-05-01T10:00:00Z or epoch milliseconds; got {raw:?}"),
            )
        })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
