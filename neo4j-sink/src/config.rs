//! Command line and environment, checked once at start.
//!
//! Every setting is both a flag and an environment variable (Knative passes
//! configuration as env vars, people at a shell prefer flags). clap collects
//! the raw strings ([`RawArgs`]); [`RawArgs::validate`] then turns them into
//! [`Settings`], whose fields already have their final types, or into a
//! [`ConfigError`] that names the setting, the rule, an example and the value
//! received. The binary exits with code 78 on such an error.

use crate::auth::{JwksSource, OidcConfig};
use crate::secret::Secret;
use clap::Parser;
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Raw settings as clap reads them from flags and environment variables.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "neo4j-sink",
    version,
    about = "Stores CTS trace CloudEvents in Neo4j"
)]
pub struct RawArgs {
    /// TCP port to listen on (Knative Serving sets PORT).
    #[arg(long, env = "PORT", default_value = "8080")]
    pub port: String,
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0")]
    pub listen_addr: String,
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
    /// How often a failed write transaction is retried inside one batch write.
    #[arg(long, env = "NEO4J_MAX_RETRIES", default_value = "3")]
    pub neo4j_max_retries: String,
    /// Time limit for one connection attempt (startup) and one ping, in seconds.
    #[arg(long, env = "NEO4J_CONNECT_TIMEOUT_SECS", default_value = "10")]
    pub neo4j_connect_timeout_secs: String,
    /// Time limit for one batch write, retries included, in seconds.
    #[arg(long, env = "WRITE_TIMEOUT_SECS", default_value = "30")]
    pub write_timeout_secs: String,
    /// Largest number of events written in one transaction.
    #[arg(long, env = "BATCH_MAX_EVENTS", default_value = "500")]
    pub batch_max_events: String,
    /// How long a batch waits for more events before it is written, in milliseconds.
    #[arg(long, env = "BATCH_MAX_DELAY_MS", default_value = "5")]
    pub batch_max_delay_ms: String,
    /// How many batches may be written at the same time.
    #[arg(long, env = "WRITE_CONCURRENCY", default_value = "2")]
    pub write_concurrency: String,
    /// How many events may wait for their commit; beyond it requests get 429.
    #[arg(long, env = "QUEUE_CAPACITY", default_value = "10000")]
    pub queue_capacity: String,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value = "1048576")]
    pub max_body_bytes: String,
    /// Comma-separated CloudEvent type prefixes that are accepted.
    #[arg(
        long,
        env = "ACCEPTED_TYPE_PREFIXES",
        default_value = "com.otc.cts.trace."
    )]
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
    /// Retries of one write transaction.
    pub max_retries: u32,
    /// Time limit of one connection attempt or ping.
    pub connect_timeout: Duration,
}

/// Group-commit settings.
#[derive(Debug, Clone)]
pub struct BatchSettings {
    /// Largest batch (events per transaction).
    pub max_events: usize,
    /// Longest wait for a batch to fill.
    pub max_delay: Duration,
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
    /// Accepted event type prefixes.
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

fn err(env: &'static str, rule: impl Into<String>, value: &str) -> ConfigError {
    ConfigError {
        env,
        rule: rule.into(),
        value: value.to_string(),
    }
}

fn number<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
    env: &'static str,
    value: &str,
    min: T,
    max: T,
    example: &str,
) -> Result<T, ConfigError> {
    let rule = || format!("must be a whole number from {min} to {max}, e.g. {example}");
    let n: T = value.trim().parse().map_err(|_| err(env, rule(), value))?;
    if n < min || n > max {
        return Err(err(env, rule(), value));
    }
    Ok(n)
}

fn secs(
    env: &'static str,
    value: &str,
    min: u64,
    max: u64,
    example: &str,
) -> Result<Duration, ConfigError> {
    number::<u64>(env, value, min, max, example).map(Duration::from_secs)
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

const NEO4J_SCHEMES: [&str; 6] = [
    "neo4j",
    "neo4j+s",
    "neo4j+ssc",
    "bolt",
    "bolt+s",
    "bolt+ssc",
];

fn neo4j_uri(value: &str) -> Result<String, ConfigError> {
    let rule = "must be a Neo4j URI with scheme neo4j, neo4j+s, neo4j+ssc, bolt, bolt+s or bolt+ssc and a host, \
                e.g. neo4j+s://graph.example.com:7687";
    let url = Url::parse(value.trim()).map_err(|_| err("NEO4J_URI", rule, value))?;
    if !NEO4J_SCHEMES.contains(&url.scheme()) || url.host_str().is_none_or(str::is_empty) {
        return Err(err("NEO4J_URI", rule, value));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(
            "NEO4J_URI",
            "must not carry credentials; set NEO4J_USER and NEO4J_PASSWORD instead",
            "<uri with credentials>",
        ));
    }
    Ok(value.trim().to_string())
}

impl RawArgs {
    /// Checks every setting and builds [`Settings`]; the first problem found is returned.
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let port = number::<u16>("PORT", &self.port, 1, u16::MAX, "8080")?;
        let listen_addr: IpAddr = self.listen_addr.trim().parse().map_err(|_| {
            err(
                "LISTEN_ADDR",
                "must be an IP address, e.g. 0.0.0.0 or ::",
                &self.listen_addr,
            )
        })?;
        let uri = neo4j_uri(&self.neo4j_uri)?;
        if self.neo4j_user.trim().is_empty() {
            return Err(err(
                "NEO4J_USER",
                "must not be empty, e.g. neo4j",
                &self.neo4j_user,
            ));
        }
        if self.neo4j_password.is_empty() {
            return Err(err(
                "NEO4J_PASSWORD",
                "is required: the password of NEO4J_USER (from a Kubernetes secret)",
                "",
            ));
        }
        let database = Some(self.neo4j_database.trim().to_string()).filter(|d| !d.is_empty());
        if let Some(db) = &database {
            let ok = db
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_');
            if !ok {
                return Err(err(
                    "NEO4J_DATABASE",
                    "must be a Neo4j database name (letters, digits, '.', '-', '_'), e.g. neo4j",
                    db,
                ));
            }
        }
        let neo4j = Neo4jSettings {
            uri,
            user: self.neo4j_user.trim().to_string(),
            password: Secret::new(self.neo4j_password.clone()),
            database,
            max_retries: number::<u32>("NEO4J_MAX_RETRIES", &self.neo4j_max_retries, 0, 100, "3")?,
            connect_timeout: secs(
                "NEO4J_CONNECT_TIMEOUT_SECS",
                &self.neo4j_connect_timeout_secs,
                1,
                600,
                "10",
            )?,
        };
        let queue_capacity = number::<usize>(
            "QUEUE_CAPACITY",
            &self.queue_capacity,
            1,
            10_000_000,
            "10000",
        )?;
        let max_events = number::<usize>(
            "BATCH_MAX_EVENTS",
            &self.batch_max_events,
            1,
            100_000,
            "500",
        )?;
        let batch = BatchSettings {
            max_events,
            max_delay: Duration::from_millis(number::<u64>(
                "BATCH_MAX_DELAY_MS",
                &self.batch_max_delay_ms,
                0,
                60_000,
                "5",
            )?),
            write_concurrency: number::<usize>(
                "WRITE_CONCURRENCY",
                &self.write_concurrency,
                1,
                64,
                "2",
            )?,
            queue_capacity,
            write_timeout: secs(
                "WRITE_TIMEOUT_SECS",
                &self.write_timeout_secs,
                1,
                3600,
                "30",
            )?,
        };
        let accepted_type_prefixes = list(&self.accepted_type_prefixes);
        if accepted_type_prefixes.is_empty() {
            return Err(err(
                "ACCEPTED_TYPE_PREFIXES",
                "must name at least one CloudEvent type prefix, e.g. com.otc.cts.trace.",
                &self.accepted_type_prefixes,
            ));
        }
        let log_format = match self.log_format.trim().to_ascii_lowercase().as_str() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            _ => return Err(err("LOG_FORMAT", "must be json or text", &self.log_format)),
        };
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return Err(err(
                "LOG_LEVEL",
                "must be a tracing filter, e.g. info or warn,neo4j_sink=debug",
                &self.log_level,
            ));
        }
        Ok(Settings {
            listen_addr,
            port,
            neo4j,
            batch,
            max_body_bytes: number::<usize>(
                "MAX_BODY_BYTES",
                &self.max_body_bytes,
                1024,
                1 << 30,
                "1048576",
            )?,
            accepted_type_prefixes,
            retry_after_unavailable: secs(
                "RETRY_AFTER_UNAVAILABLE_SECS",
                &self.retry_after_unavailable_secs,
                1,
                3600,
                "5",
            )?,
            retry_after_queue_full: secs(
                "RETRY_AFTER_QUEUE_FULL_SECS",
                &self.retry_after_queue_full_secs,
                1,
                3600,
                "1",
            )?,
            ready_check_interval: secs(
                "READY_CHECK_INTERVAL_SECS",
                &self.ready_check_interval_secs,
                1,
                3600,
                "10",
            )?,
            shutdown_timeout: secs(
                "SHUTDOWN_TIMEOUT_SECS",
                &self.shutdown_timeout_secs,
                1,
                3600,
                "25",
            )?,
            log_format,
            log_level: self.log_level.clone(),
            oidc: self.oidc()?,
        })
    }

    fn oidc(&self) -> Result<Option<OidcConfig>, ConfigError> {
        let audience = self.oidc_audience.trim();
        let issuer = self.oidc_issuer.trim();
        let file = self.oidc_jwks_file.trim();
        let url = self.oidc_jwks_url.trim();
        let subjects = list(&self.oidc_allowed_subjects);
        if audience.is_empty() {
            // Off: any other OIDC setting would be silently ignored, so refuse it.
            for (env, value) in [
                ("OIDC_ISSUER", issuer),
                ("OIDC_JWKS_FILE", file),
                ("OIDC_JWKS_URL", url),
                ("OIDC_ALLOWED_SUBJECTS", self.oidc_allowed_subjects.trim()),
            ] {
                if !value.is_empty() {
                    return Err(err(
                        env,
                        "only takes effect with OIDC_AUDIENCE; set OIDC_AUDIENCE to turn authenticated delivery on",
                        value,
                    ));
                }
            }
            return Ok(None);
        }
        if issuer.is_empty() {
            return Err(err(
                "OIDC_ISSUER",
                "is required with OIDC_AUDIENCE: the issuer (iss) of the sender tokens, \
                 e.g. https://kubernetes.default.svc",
                issuer,
            ));
        }
        let jwks = match (file.is_empty(), url.is_empty()) {
            (false, true) => JwksSource::File(PathBuf::from(file)),
            (true, false) => {
                let parsed = Url::parse(url)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .ok_or_else(|| {
                        err(
                            "OIDC_JWKS_URL",
                            "must be an http(s) URL, e.g. https://kubernetes.default.svc/openid/v1/jwks",
                            url,
                        )
                    })?;
                JwksSource::Url(parsed)
            }
            (true, true) => {
                return Err(err(
                    "OIDC_JWKS_FILE",
                    "OIDC_AUDIENCE needs the issuer's keys: set OIDC_JWKS_FILE or OIDC_JWKS_URL",
                    "",
                ))
            }
            (false, false) => {
                return Err(err(
                    "OIDC_JWKS_URL",
                    "set only one of OIDC_JWKS_FILE and OIDC_JWKS_URL",
                    url,
                ))
            }
        };
        Ok(Some(OidcConfig {
            audience: audience.to_string(),
            issuer: issuer.to_string(),
            jwks,
            allowed_subjects: (!subjects.is_empty())
                .then(|| subjects.into_iter().collect::<BTreeSet<_>>()),
            refresh: secs(
                "OIDC_JWKS_REFRESH_SECS",
                &self.oidc_jwks_refresh_secs,
                10,
                86_400,
                "300",
            )?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use clap::{CommandFactory, FromArgMatches};

    /// Parses flags only: the environment of the test process (which may hold
    /// NEO4J_URI and friends) must not leak into these tests.
    fn parse_flags(args: &[&str]) -> RawArgs {
        let cmd = RawArgs::command().mut_args(|a| a.env(None));
        let matches =
            cmd.try_get_matches_from(std::iter::once("neo4j-sink").chain(args.iter().copied()));
        RawArgs::from_arg_matches(&matches.expect("clap parses")).expect("args")
    }

    fn parse(args: &[&str]) -> RawArgs {
        let mut all = vec!["--neo4j-password", "pw"];
        all.extend_from_slice(args);
        parse_flags(&all)
    }

    #[test]
    fn defaults_are_valid() {
        let s = parse(&[]).validate().expect("valid");
        assert_eq!(s.neo4j.uri, "neo4j://localhost:7687");
        assert_eq!(s.neo4j.user, "neo4j");
        assert_eq!(s.max_body_bytes, 1024 * 1024);
        assert_eq!(
            s.accepted_type_prefixes,
            vec!["com.otc.cts.trace.".to_string()]
        );
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.oidc.is_none());
        assert!(s.neo4j.database.is_none());
    }

    #[test]
    fn errors_name_setting_rule_and_value() {
        let e = parse(&["--port", "eighty"])
            .validate()
            .expect_err("bad port");
        let text = e.to_string();
        assert!(text.contains("PORT") && text.contains("--port"), "{text}");
        assert!(
            text.contains("1 to 65535") && text.contains("\"eighty\""),
            "{text}"
        );

        let e = parse(&["--neo4j-uri", "http://x:7474"])
            .validate()
            .expect_err("bad scheme");
        assert_eq!(e.env, "NEO4J_URI");
        let e = parse(&["--batch-max-events", "0"])
            .validate()
            .expect_err("zero batch");
        assert_eq!(e.env, "BATCH_MAX_EVENTS");
        let e = parse(&["--log-format", "xml"])
            .validate()
            .expect_err("bad format");
        assert_eq!(e.env, "LOG_FORMAT");
    }

    #[test]
    fn encrypted_schemes_pass_through() {
        for uri in [
            "neo4j+s://db.example.com:7687",
            "bolt+s://db.example.com",
            "bolt://127.0.0.1:7687",
        ] {
            let s = parse(&["--neo4j-uri", uri]).validate().expect("valid");
            assert_eq!(s.neo4j.uri, uri);
        }
    }

    #[test]
    fn password_is_required_and_never_echoed() {
        let e = parse_flags(&[]).validate().expect_err("missing password");
        assert_eq!(e.env, "NEO4J_PASSWORD");
        let s = parse_flags(&["--neo4j-password", "hunter2-secret"])
            .validate()
            .expect("valid");
        assert!(!format!("{s:?}").contains("hunter2-secret"));
        let e = parse_flags(&[
            "--neo4j-password",
            "hunter2-secret",
            "--neo4j-uri",
            "neo4j://u:hunter2-secret@h",
        ])
        .validate()
        .expect_err("credentials in uri");
        assert!(!e.to_string().contains("hunter2-secret"), "{e}");
    }

    #[test]
    fn oidc_settings_hang_together() {
        assert!(parse(&["--oidc-issuer", "https://i"]).validate().is_err());
        let e = parse(&["--oidc-audience", "sink"])
            .validate()
            .expect_err("issuer missing");
        assert_eq!(e.env, "OIDC_ISSUER");
        let e = parse(&["--oidc-audience", "sink", "--oidc-issuer", "https://i"])
            .validate()
            .expect_err("keys missing");
        assert_eq!(e.env, "OIDC_JWKS_FILE");
        let s = parse(&[
            "--oidc-audience",
            "sink",
            "--oidc-issuer",
            "https://i",
            "--oidc-jwks-url",
            "https://i/jwks",
            "--oidc-allowed-subjects",
            "a, b",
        ])
        .validate()
        .expect("valid");
        let oidc = s.oidc.expect("on");
        assert_eq!(oidc.allowed_subjects.expect("list").len(), 2);
    }
}
