//! Turns the raw command line ([`crate::cli`]) into a [`Config`] whose fields
//! already mean something (`Url`, `Duration`, `NonZeroUsize`, ...).
//!
//! Each check answers with a [`ConfigError`] naming the setting (environment
//! variable and flag), what is allowed, an example and the value received;
//! `main` turns it into exit code 78, as the original exporter did.
//!
//! [`values`] holds the parsers shared by every setting, [`sink`] the HTTP
//! delivery settings and [`backfill`] those of `cts-exporter backfill`.

mod backfill;
mod sink;
mod values;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use cts_client::ApiVersion;
use url::Url;

use ce_delivery::{Batching, Overrides, RetryPolicy};

use crate::cli::CommonArgs;

pub use backfill::{BackfillConfig, BackfillSource};
use sink::sink_config;
use values::{
    api_choice, boolean, clouds, filters, int_in, metrics_addr, nonzero, path_opt, tracker,
};

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

/// How a CloudEvent travels over HTTP: binary (the default) or structured.
pub use ce_delivery::ContentMode as EventMode;

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
    /// `CTS_CE_BATCH`: batch mode and its bounds, `None` for single events.
    pub batch: Option<Batching>,
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
    /// Dead-letter file for events refused for good and unreadable CTS traces.
    pub dead_letter_file: Option<PathBuf>,
    /// Sink or stdout.
    pub output: Output,
    /// `K_CE_OVERRIDES`.
    pub overrides: Overrides,
    /// `CTS_CE_ORIGINAL_EXTENSIONS`: also send the original tool's extensions.
    pub original_extensions: bool,
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
                Some(raw) => Overrides::parse(raw).map_err(|e| {
                    ConfigError::new("K_CE_OVERRIDES (--ce-overrides)", e.to_string())
                })?,
                None => Overrides::default(),
            },
            original_extensions: boolean(
                "CTS_CE_ORIGINAL_EXTENSIONS (--ce-original-extensions)",
                &a.ce_original_extensions,
            )?,
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
