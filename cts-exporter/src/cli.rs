//! The raw command line and environment, exactly as the user typed them.
//!
//! Every value is kept as text here so that [`crate::config`] can check it and
//! answer with one message that names the setting (flag and environment
//! variable), what is allowed, an example and the value received. clap only
//! does the plumbing: flags, environment fallbacks, defaults and `--help`.

use clap::{Args, Parser, Subcommand};

/// Polls the Open Telekom Cloud Cloud Trace Service (CTS) and delivers every
/// trace as a CloudEvent to a Knative sink.
#[derive(Debug, Parser)]
#[command(name = "cts-exporter", version, about, long_about = None)]
pub struct Cli {
    /// `backfill` sends a past range once; without a subcommand the exporter polls forever.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by polling and backfill.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a past range once: from the CTS API (at most 7 days back) or from archive files.
    Backfill(BackfillArgs),
}

/// Settings shared by polling and backfill.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Cloud name(s) in clouds.yaml, comma separated for several tenants (one poller each).
    #[arg(long = "cloud", env = "OS_CLOUD", global = true)]
    pub os_cloud: Option<String>,
    /// Debug logging.
    #[arg(
        long = "debug",
        env = "OS_DEBUG",
        default_value = "false",
        global = true
    )]
    pub os_debug: String,
    /// CTS tracker name.
    #[arg(
        long = "tracker",
        env = "CTS_TRACKER",
        default_value = "system",
        global = true
    )]
    pub tracker: String,
    /// Minutes to look back at start, and the interval between polls (1..=10800).
    #[arg(long = "from", env = "CTS_FROM", default_value = "5", global = true)]
    pub from_minutes: String,
    /// true: send events to K_SINK; false: print them on stdout instead.
    #[arg(
        long = "x-pnp",
        env = "CTS_X_PNP",
        default_value = "true",
        global = true
    )]
    pub x_pnp: String,
    /// The sink URL (injected by Knative SinkBinding/ContainerSource).
    #[arg(long = "sink", env = "K_SINK", global = true)]
    pub sink: Option<String>,
    /// CloudEvent overrides as JSON, e.g. {"extensions":{"team":"ops"}}.
    #[arg(long = "ce-overrides", env = "K_CE_OVERRIDES", global = true)]
    pub ce_overrides: Option<String>,
    /// Also send the extensions the original Go tool's sink reads: tenant, status, code, resourceid (true or false).
    #[arg(
        long = "ce-original-extensions",
        env = "CTS_CE_ORIGINAL_EXTENSIONS",
        default_value = "false",
        global = true
    )]
    pub ce_original_extensions: String,
    /// CA bundle (PEM text or a path to a PEM file) trusted for an https sink.
    #[arg(
        long = "ca-certs",
        env = "K_CA_CERTS",
        global = true,
        allow_hyphen_values = true
    )]
    pub ca_certs: Option<String>,
    /// OIDC token file sent as a Bearer token, re-read when it changes; ignored while absent.
    #[arg(
        long = "oidc-token-file",
        env = "K_OIDC_TOKEN_FILE",
        default_value = "/oidc/token",
        global = true
    )]
    pub oidc_token_file: String,
    /// CTS API version: v3, v2 or v1.
    #[arg(
        long = "api-version",
        env = "CTS_API_VERSION",
        default_value = "v3",
        global = true
    )]
    pub api_version: String,
    /// Only traces of this service, e.g. ECS.
    #[arg(long = "service", env = "CTS_SERVICE", global = true)]
    pub service: Option<String>,
    /// Only traces of this operation (trace name), e.g. createServer.
    #[arg(long = "operation", env = "CTS_OPERATION", global = true)]
    pub operation: Option<String>,
    /// Only traces with this rating: normal, warning or incident.
    #[arg(long = "rating", env = "CTS_RATING", global = true)]
    pub rating: Option<String>,
    /// Only traces of this user name.
    #[arg(long = "user", env = "CTS_USER", global = true)]
    pub user: Option<String>,
    /// Only traces of this resource type, e.g. eip.
    #[arg(long = "resource-type", env = "CTS_RESOURCE_TYPE", global = true)]
    pub resource_type: Option<String>,
    /// Only traces of this resource id.
    #[arg(long = "resource-id", env = "CTS_RESOURCE_ID", global = true)]
    pub resource_id: Option<String>,
    /// Only traces of this resource name.
    #[arg(long = "resource-name", env = "CTS_RESOURCE_NAME", global = true)]
    pub resource_name: Option<String>,
    /// Traces per page (1..=200).
    #[arg(
        long = "page-size",
        env = "CTS_PAGE_SIZE",
        default_value = "200",
        global = true
    )]
    pub page_size: String,
    /// Seconds between polls; defaults to CTS_FROM minutes.
    #[arg(
        long = "poll-interval-secs",
        env = "CTS_POLL_INTERVAL_SECS",
        global = true
    )]
    pub poll_interval_secs: Option<String>,
    /// Seconds each window reaches back before the watermark, to catch traces that become visible late.
    #[arg(
        long = "lateness-secs",
        env = "CTS_LATENESS_SECS",
        default_value = "180",
        global = true
    )]
    pub lateness_secs: String,
    /// Longest window one query covers while catching up, in seconds.
    #[arg(
        long = "max-window-secs",
        env = "CTS_MAX_WINDOW_SECS",
        default_value = "3600",
        global = true
    )]
    pub max_window_secs: String,
    /// State file holding each poller's watermark; without it a start looks back CTS_FROM minutes.
    #[arg(long = "state-file", env = "CTS_STATE_FILE", global = true)]
    pub state_file: Option<String>,
    /// File receiving, one JSON line each, the events the sink refused for good and the CTS traces that cannot be read.
    #[arg(long = "dead-letter-file", env = "CTS_DEAD_LETTER_FILE", global = true)]
    pub dead_letter_file: Option<String>,
    /// CloudEvents HTTP content mode: binary or structured.
    #[arg(
        long = "event-mode",
        env = "CTS_EVENT_MODE",
        default_value = "binary",
        global = true
    )]
    pub event_mode: String,
    /// Events in flight to the sink at once.
    #[arg(
        long = "concurrency",
        env = "CTS_DELIVERY_CONCURRENCY",
        default_value = "64",
        global = true
    )]
    pub concurrency: String,
    /// Send CloudEvents batches (application/cloudevents-batch+json) instead of single events.
    #[arg(
        long = "ce-batch",
        env = "CTS_CE_BATCH",
        default_value = "false",
        global = true
    )]
    pub ce_batch: String,
    /// Events per batch at most (batch mode).
    #[arg(
        long = "ce-batch-max-events",
        env = "CTS_CE_BATCH_MAX_EVENTS",
        default_value = "100",
        global = true
    )]
    pub ce_batch_max_events: String,
    /// Longest wait of a batch's first event for more, in milliseconds (batch mode).
    #[arg(
        long = "ce-batch-max-delay-ms",
        env = "CTS_CE_BATCH_MAX_DELAY_MS",
        default_value = "200",
        global = true
    )]
    pub ce_batch_max_delay_ms: String,
    /// First retry delay in milliseconds (doubles each attempt, with jitter).
    #[arg(
        long = "retry-initial-ms",
        env = "CTS_RETRY_INITIAL_MS",
        default_value = "200",
        global = true
    )]
    pub retry_initial_ms: String,
    /// Longest retry delay in milliseconds.
    #[arg(
        long = "retry-max-ms",
        env = "CTS_RETRY_MAX_MS",
        default_value = "30000",
        global = true
    )]
    pub retry_max_ms: String,
    /// Timeout of one request to the sink, in seconds.
    #[arg(
        long = "request-timeout-secs",
        env = "CTS_REQUEST_TIMEOUT_SECS",
        default_value = "30",
        global = true
    )]
    pub request_timeout_secs: String,
    /// Trace ids remembered for de-duplication (a hard cap on top of the lateness horizon).
    #[arg(
        long = "dedup-capacity",
        env = "CTS_DEDUP_CAPACITY",
        default_value = "100000",
        global = true
    )]
    pub dedup_capacity: String,
    /// Address of the /healthz and /metrics server; "off" disables it.
    #[arg(
        long = "metrics-addr",
        env = "CTS_METRICS_ADDR",
        default_value = "0.0.0.0:9090",
        global = true
    )]
    pub metrics_addr: String,
    /// Seconds to finish in-flight sends after SIGTERM before abandoning them.
    #[arg(
        long = "shutdown-grace-secs",
        env = "CTS_SHUTDOWN_GRACE_SECS",
        default_value = "10",
        global = true
    )]
    pub shutdown_grace_secs: String,
}

/// Settings of `cts-exporter backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Start of the range for an API backfill: RFC 3339 (2024-05-01T10:00:00Z) or epoch milliseconds.
    #[arg(long = "since", env = "CTS_BACKFILL_SINCE")]
    pub since: Option<String>,
    /// End of the range for an API backfill (default: now).
    #[arg(long = "until", env = "CTS_BACKFILL_UNTIL")]
    pub until: Option<String>,
    /// Directory of archived trace files in the OBS layout (.json or .json.gz), read instead of the API.
    #[arg(long = "archive-dir", env = "CTS_BACKFILL_ARCHIVE_DIR")]
    pub archive_dir: Option<String>,
    /// Region of the archive's traces when its paths have no `CloudTraces/<region>/` folder (archive only).
    #[arg(long = "region", env = "CTS_BACKFILL_REGION")]
    pub region: Option<String>,
    /// Project id of the archive's traces; needed when neither file names nor traces carry it (archive only).
    #[arg(long = "project-id", env = "CTS_BACKFILL_PROJECT_ID")]
    pub project_id: Option<String>,
    /// Seconds between progress lines on stderr.
    #[arg(
        long = "progress-secs",
        env = "CTS_BACKFILL_PROGRESS_SECS",
        default_value = "5"
    )]
    pub progress_secs: String,
}
