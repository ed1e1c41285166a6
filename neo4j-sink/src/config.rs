//! Command line and environment, checked once at start.
//!
//! Every setting is both a flag and an environment variable (Knative passes
//! configuration as env vars, people at a shell prefer flags). clap collects
//! the raw strings ([`RawArgs`]); [`RawArgs::validate`] then turns them into
//! [`Settings`], whose fields already have their final types, or into a
//! [`ConfigError`] that names the setting, the rule, an example and the value
//! received. The binary exits with code 78 on such an error.

use crate::auth::OidcConfig;
use crate::secret::Secret;
use clap::Parser;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// The Neo4j connection settings the server, `query` and `detect` share: the
/// same flags, environment variables and defaults, checked by
/// [`Neo4jArgs::connection`]. Its `Debug` never shows the password.
#[derive(Clone, clap::Args)]
pub struct Neo4jArgs {
    /// Neo4j URI; schemes neo4j, neo4j+s, neo4j+ssc, bolt, bolt+s, bolt+ssc.
    #[arg(long, env = "NEO4J_URI", default_value = "neo4j://localhost:7687")]
    pub neo4j_uri: String,
    /// Neo4j user.
    #[arg(long, env = "NEO4J_USER", default_value = "neo4j")]
    pub neo4j_user: String,
    /// Neo4j password (prefer the environment variable over the flag).
    #[arg(
        long,
        env = "NEO4J_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    pub neo4j_password: String,
    /// Neo4j database name; empty means the server's default database.
    #[arg(long, env = "NEO4J_DATABASE", default_value = "")]
    pub neo4j_database: String,
    /// PEM file of the CA that signed Neo4j's certificate, for neo4j+s/bolt+s with a private CA;
    /// empty trusts the system's root certificates.
    #[arg(long, env = "NEO4J_CA_CERT", default_value = "")]
    pub neo4j_ca_cert: String,
}

impl Neo4jArgs {
    /// The checked connection settings, or a [`ConfigError`] naming the first
    /// setting that is missing or wrong.
    pub fn connection(&self) -> Result<Neo4jSettings, ConfigError> {
        crate::validate::neo4j_connection(
            &self.neo4j_uri,
            &self.neo4j_user,
            &self.neo4j_password,
            &self.neo4j_database,
            &self.neo4j_ca_cert,
        )
    }
}

impl fmt::Debug for Neo4jArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Neo4jArgs")
            .field("neo4j_uri", &self.neo4j_uri)
            .field("neo4j_user", &self.neo4j_user)
            .field(
                "neo4j_password",
                &if self.neo4j_password.is_empty() {
                    "(empty)"
                } else {
                    "(hidden)"
                },
            )
            .field("neo4j_database", &self.neo4j_database)
            .field("neo4j_ca_cert", &self.neo4j_ca_cert)
            .finish()
    }
}

/// Raw settings as clap reads them from flags and environment variables.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "neo4j-sink",
    version,
    about = "Stores CTS trace CloudEvents in Neo4j",
    after_help = "Investigation questions: `neo4j-sink query --list`, then `neo4j-sink query <name> -p key=value` (docs/queries.md)."
)]
pub struct RawArgs {
    /// TCP port to listen on (Knative Serving sets PORT).
    #[arg(long, env = "PORT", default_value = "8080")]
    pub port: String,
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0")]
    pub listen_addr: String,
    /// The Neo4j connection.
    #[command(flatten)]
    pub neo4j: Neo4jArgs,
    /// How often a failed write transaction is retried inside one batch write.
    #[arg(long, env = "NEO4J_MAX_RETRIES", default_value = "3")]
    pub neo4j_max_retries: String,
    /// Time limit for one connection attempt (startup) and one ping, in seconds.
    #[arg(long, env = "NEO4J_CONNECT_TIMEOUT_SECS", default_value = "10")]
    pub neo4j_connect_timeout_secs: String,
    /// Longest warm-up of a cold Neo4j at start, in seconds: before the sink reports ready it runs its write
    /// statement with its batch sizes on synthetic traces in transactions that are rolled back (nothing
    /// becomes visible), so Neo4j plans and JIT-compiles it before traffic; it stops early once the server
    /// is warm. 0 turns it off.
    #[arg(long, env = "NEO4J_WARMUP_SECS", default_value = "20")]
    pub neo4j_warmup_secs: String,
    /// Time limit for one batch write, retries included, in seconds.
    #[arg(long, env = "WRITE_TIMEOUT_SECS", default_value = "30")]
    pub write_timeout_secs: String,
    /// Largest number of events written in one transaction.
    #[arg(long, env = "BATCH_MAX_EVENTS", default_value = "1000")]
    pub batch_max_events: String,
    /// How long a batch waits for more events before it is written, in milliseconds. 0 writes what is
    /// queued as soon as a write slot is free; events queue while every slot is busy, so batches grow
    /// with the load.
    #[arg(long, env = "BATCH_MAX_DELAY_MS", default_value = "0")]
    pub batch_max_delay_ms: String,
    /// How long a batch may wait to fill (up to BATCH_MAX_EVENTS) while another batch is being written, in
    /// milliseconds. The batch is written as soon as no other write is in flight, so a lone event is
    /// committed at once; under a deep queue transactions grow instead of multiplying. 0 turns it off.
    #[arg(long, env = "BATCH_BUSY_DELAY_MS", default_value = "5")]
    pub batch_busy_delay_ms: String,
    /// How many batches may be written at the same time.
    #[arg(long, env = "WRITE_CONCURRENCY", default_value = "3")]
    pub write_concurrency: String,
    /// How many events may wait for their commit; beyond it requests get 429.
    #[arg(long, env = "QUEUE_CAPACITY", default_value = "10000")]
    pub queue_capacity: String,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value = "1048576")]
    pub max_body_bytes: String,
    /// Request body bytes that may wait for their commit at once; beyond it requests get 429.
    #[arg(long, env = "QUEUE_MAX_BYTES", default_value = "67108864")]
    pub queue_max_bytes: String,
    /// Comma-separated CloudEvent type prefixes that are accepted; empty (the default) accepts every
    /// type whose data is a CTS trace, e.g. com.otc.cts.trace. to take only this exporter's events.
    #[arg(long, env = "ACCEPTED_TYPE_PREFIXES", default_value = "")]
    pub accepted_type_prefixes: String,
    /// Retry-After (seconds) sent with 503 when Neo4j is unavailable.
    #[arg(long, env = "RETRY_AFTER_UNAVAILABLE_SECS", default_value = "5")]
    pub retry_after_unavailable_secs: String,
    /// Retry-After (seconds) sent with 429 when the queue is full.
    #[arg(long, env = "RETRY_AFTER_QUEUE_FULL_SECS", default_value = "1")]
    pub retry_after_queue_full_secs: String,
    /// How often Neo4j is pinged for /readyz, in seconds.
    #[arg(long, env = "READY_CHECK_INTERVAL_SECS", default_value = "10")]
    pub ready_check_interval_secs: String,
    /// Upper bound for the shutdown after SIGTERM, in seconds.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value = "25")]
    pub shutdown_timeout_secs: String,
    /// Log format: json or text.
    #[arg(long, env = "LOG_FORMAT", default_value = "json")]
    pub log_format: String,
    /// Log filter in tracing-subscriber EnvFilter syntax, e.g. `info` or `neo4j_sink=debug`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// OIDC audience; setting it turns authenticated delivery on.
    #[arg(long, env = "OIDC_AUDIENCE", default_value = "")]
    pub oidc_audience: String,
    /// OIDC issuer the tokens must name (required with OIDC_AUDIENCE).
    #[arg(long, env = "OIDC_ISSUER", default_value = "")]
    pub oidc_issuer: String,
    /// File holding the issuer's JWKS (one of OIDC_JWKS_FILE / OIDC_JWKS_URL).
    #[arg(long, env = "OIDC_JWKS_FILE", default_value = "")]
    pub oidc_jwks_file: String,
    /// URL of the issuer's JWKS (one of OIDC_JWKS_FILE / OIDC_JWKS_URL).
    #[arg(long, env = "OIDC_JWKS_URL", default_value = "")]
    pub oidc_jwks_url: String,
    /// Comma-separated token subjects allowed to deliver; empty allows any valid token.
    #[arg(long, env = "OIDC_ALLOWED_SUBJECTS", default_value = "")]
    pub oidc_allowed_subjects: String,
    /// How often the JWKS is reloaded, in seconds.
    #[arg(long, env = "OIDC_JWKS_REFRESH_SECS", default_value = "300")]
    pub oidc_jwks_refresh_secs: String,
    /// Shortest time between two JWKS reloads caused by tokens whose key id is not loaded (key
    /// rotation), in seconds; such tokens get 503 with Retry-After until the key appears.
    #[arg(long, env = "OIDC_JWKS_MIN_RELOAD_SECS", default_value = "10")]
    pub oidc_jwks_min_reload_secs: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default).
    Json,
    /// Human-readable text.
    Text,
}

/// Neo4j connection settings.
#[derive(Debug, Clone)]
pub struct Neo4jSettings {
    /// Bolt URI, passed to the driver as given.
    pub uri: String,
    /// User name.
    pub user: String,
    /// Password (masked in Debug).
    pub password: Secret,
    /// Database name; `None` for the server default.
    pub database: Option<String>,
    /// CA certificate file for `+s` URIs; `None` for the system's roots.
    pub ca_cert: Option<std::path::PathBuf>,
    /// Retries of one write transaction.
    pub max_retries: u32,
    /// Time limit of one connection attempt or ping.
    pub connect_timeout: Duration,
    /// Longest warm-up at start; zero turns it off.
    pub warmup: Duration,
}

/// Group-commit settings.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    /// Largest batch (events per transaction).
    pub max_events: usize,
    /// Longest wait for a batch to fill.
    pub max_delay: Duration,
    /// Longest wait for a batch to fill while another write is in flight; the
    /// batch goes as soon as none is.
    pub busy_delay: Duration,
    /// Batches written at the same time.
    pub write_concurrency: usize,
    /// Events that may wait for their commit at once.
    pub queue_capacity: usize,
    /// Time limit for one batch write.
    pub write_timeout: Duration,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub listen_addr: IpAddr,
    /// Listen port.
    pub port: u16,
    /// Neo4j connection.
    pub neo4j: Neo4jSettings,
    /// Group commit.
    pub batch: BatchSettings,
    /// Body size limit in bytes.
    pub max_body_bytes: usize,
    /// Bytes of request bodies in flight at once (at least `max_body_bytes`).
    pub queue_max_bytes: usize,
    /// Accepted event type prefixes; empty accepts every type.
    pub accepted_type_prefixes: Vec<String>,
    /// Retry-After for 503.
    pub retry_after_unavailable: Duration,
    /// Retry-After for 429.
    pub retry_after_queue_full: Duration,
    /// Ping interval for readiness.
    pub ready_check_interval: Duration,
    /// Shutdown bound.
    pub shutdown_timeout: Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// Authenticated delivery, if on.
    pub oidc: Option<OidcConfig>,
}

/// A setting that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Environment variable name.
    pub env: &'static str,
    /// What is allowed, with an example.
    pub rule: String,
    /// What was given (`***` for secrets).
    pub value: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flag = format!("--{}", self.env.to_ascii_lowercase().replace('_', "-"));
        write!(
            f,
            "invalid setting {} ({flag}): {}; got {:?}",
            self.env, self.rule, self.value
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
