//! The rules every setting is checked against, kept apart from the setting
//! definitions in `config` so each file holds one concept.
//!
//! [`RawArgs::validate`] checks the raw strings in a fixed order and returns
//! the first problem as a [`ConfigError`] naming the environment variable, the
//! flag, the rule (with an example) and the value received (never a secret).

use crate::auth::{JwksSource, OidcConfig};
use crate::config::{BatchSettings, ConfigError, LogFormat, Neo4jSettings, RawArgs, Settings};
use crate::secret::Secret;
use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

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

/// Checks the Neo4j connection settings (`NEO4J_URI`, `NEO4J_USER`,
/// `NEO4J_PASSWORD`, `NEO4J_DATABASE`, `NEO4J_CA_CERT`) as the server and
/// `neo4j-sink query` both need them. Retries and the connect timeout get
/// their defaults (3, 10 s); the server sets its own afterwards.
///
/// Errors: a [`ConfigError`] naming the first setting that is missing or wrong.
pub fn neo4j_connection(
    uri: &str,
    user: &str,
    password: &str,
    database: &str,
    ca_cert: &str,
) -> Result<Neo4jSettings, ConfigError> {
    let uri = neo4j_uri(uri)?;
    if user.trim().is_empty() {
        return Err(err("NEO4J_USER", "must not be empty, e.g. neo4j", user));
    }
    if password.is_empty() {
        return Err(err(
            "NEO4J_PASSWORD",
            "is required: the password of NEO4J_USER (from a Kubernetes secret)",
            "",
        ));
    }
    let database = Some(database.trim().to_string()).filter(|d| !d.is_empty());
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
    let ca_cert = Some(ca_cert.trim())
        .filter(|c| !c.is_empty())
        .map(std::path::PathBuf::from);
    if let Some(path) = &ca_cert {
        // trace-graph's own rule (a +s scheme and a readable PEM file), named after our setting.
        let mut probe = trace_graph::GraphConfig::new(uri.clone(), "neo4j", "");
        probe.ca_cert = Some(path.clone());
        if let Err(trace_graph::Error::Config {
            setting: "ca_cert",
            problem,
        }) = probe.validate()
        {
            return Err(err("NEO4J_CA_CERT", problem, &path.display().to_string()));
        }
    }
    Ok(Neo4jSettings {
        uri,
        ca_cert,
        user: user.trim().to_string(),
        password: Secret::new(password.to_owned()),
        database,
        max_retries: 3,
        connect_timeout: Duration::from_secs(10),
        warmup: Duration::ZERO,
    })
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
        let mut neo4j = self.neo4j.connection()?;
        neo4j.max_retries =
            number::<u32>("NEO4J_MAX_RETRIES", &self.neo4j_max_retries, 0, 100, "3")?;
        neo4j.connect_timeout = secs(
            "NEO4J_CONNECT_TIMEOUT_SECS",
            &self.neo4j_connect_timeout_secs,
            1,
            600,
            "10",
        )?;
        neo4j.warmup = secs("NEO4J_WARMUP_SECS", &self.neo4j_warmup_secs, 0, 600, "20")?;
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
            "1000",
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
            busy_delay: Duration::from_millis(number::<u64>(
                "BATCH_BUSY_DELAY_MS",
                &self.batch_busy_delay_ms,
                0,
                60_000,
                "5",
            )?),
            write_concurrency: number::<usize>(
                "WRITE_CONCURRENCY",
                &self.write_concurrency,
                1,
                64,
                "4",
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
        // Empty accepts every type: the data decides (it must be a CTS trace).
        let accepted_type_prefixes = list(&self.accepted_type_prefixes);
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
        let max_body_bytes = number::<usize>(
            "MAX_BODY_BYTES",
            &self.max_body_bytes,
            1024,
            1 << 30,
            "1048576",
        )?;
        let queue_max_bytes = number::<usize>(
            "QUEUE_MAX_BYTES",
            &self.queue_max_bytes,
            1024,
            1 << 40,
            "67108864",
        )?;
        if queue_max_bytes < max_body_bytes {
            return Err(err(
                "QUEUE_MAX_BYTES",
                format!("must be at least MAX_BODY_BYTES ({max_body_bytes}), or no request of the largest size fits, e.g. 67108864"),
                &self.queue_max_bytes,
            ));
        }
        Ok(Settings {
            listen_addr,
            port,
            neo4j,
            batch,
            max_body_bytes,
            queue_max_bytes,
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
            min_reload: secs(
                "OIDC_JWKS_MIN_RELOAD_SECS",
                &self.oidc_jwks_min_reload_secs,
                1,
                3600,
                "10",
            )?,
        }))
    }
}
