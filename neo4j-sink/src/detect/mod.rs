//! `neo4j-sink detect`: a long-running detector that evaluates the detection
//! rules of `trace_graph::detect` every `DETECT_INTERVAL` seconds over the
//! actions stored since its last position, stores new findings in the graph
//! and sends each as a CloudEvent to `K_SINK` (docs/detections.md).
//!
//! - [`DetectArgs`] / [`DetectArgs::validate`]: flags and environment
//!   variables (one pair per rule parameter, generated from the rule list);
//! - [`run`]: the loop, its metrics and `/healthz`;
//! - [`send`]: the CloudEvents sender behind a trait.

pub mod run;
pub mod send;

use crate::config::{ConfigError, LogFormat, Neo4jSettings};
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;
use trace_graph::detect::{RuleSettings, RULES};

/// The fixed settings of the detector (rule parameters are added by [`command`]).
#[derive(Debug, Clone, Args)]
pub struct DetectArgs {
    /// Where findings are sent (Knative's SinkBinding sets K_SINK).
    #[arg(long = "sink", env = "K_SINK", default_value = "")]
    pub sink: String,
    /// CloudEvent overrides as Knative injects them, e.g. {"extensions":{"team":"ops"}}.
    #[arg(long = "ce-overrides", env = "K_CE_OVERRIDES", default_value = "")]
    pub ce_overrides: String,
    /// Extra CA certificates for an https K_SINK: PEM text (as Knative injects it) or a PEM file's path.
    #[arg(long = "ca-certs", env = "K_CA_CERTS", default_value = "")]
    pub ca_certs: String,
    /// OIDC token file sent as `Authorization: Bearer` (re-read when it changes; no header while absent).
    #[arg(
        long = "oidc-token-file",
        env = "K_OIDC_TOKEN_FILE",
        default_value = "/oidc/token"
    )]
    pub oidc_token_file: String,
    /// Seconds between two runs of the rules.
    #[arg(
        long = "detect-interval",
        env = "DETECT_INTERVAL",
        default_value = "60"
    )]
    pub interval: String,
    /// The detector's name: its position node and the CloudEvent source (letters, digits, . _ -).
    #[arg(long = "detect-name", env = "DETECT_NAME", default_value = "default")]
    pub name: String,
    /// Project ids to watch, comma-separated; empty watches every project.
    #[arg(long = "detect-projects", env = "DETECT_PROJECTS", default_value = "")]
    pub projects: String,
    /// Each run looks again at actions stored this many seconds before the position (late commits).
    #[arg(
        long = "detect-overlap-secs",
        env = "DETECT_OVERLAP_SECS",
        default_value = "300"
    )]
    pub overlap_secs: String,
    /// On the very first start, how far back (store time) the first run looks.
    #[arg(
        long = "detect-lookback-secs",
        env = "DETECT_LOOKBACK_SECS",
        default_value = "3600"
    )]
    pub lookback_secs: String,
    /// Rules to run, comma-separated, or `all`.
    #[arg(long = "detect-rules", env = "DETECT_RULES", default_value = "all")]
    pub rules: String,
    /// Rules not to run, comma-separated.
    #[arg(
        long = "detect-skip-rules",
        env = "DETECT_SKIP_RULES",
        default_value = ""
    )]
    pub skip_rules: String,
    /// Run the rules once, send, and exit (0 when everything was sent).
    #[arg(long = "detect-once", env = "DETECT_ONCE", default_value = "false")]
    pub once: String,
    /// Plan every rule's query at start (each run once over an empty window): moves Neo4j's cold start out of the first run.
    #[arg(
        long = "detect-warm-up",
        env = "DETECT_WARM_UP",
        default_value = "false"
    )]
    pub warm_up: String,
    /// Retries of one CloudEvent after a connection failure, a timeout, 5xx, 404, 408, 409 or 429.
    #[arg(
        long = "detect-send-retries",
        env = "DETECT_SEND_RETRIES",
        default_value = "5"
    )]
    pub send_retries: String,
    /// Time limit of one CloudEvent request, in seconds.
    #[arg(
        long = "detect-send-timeout-secs",
        env = "DETECT_SEND_TIMEOUT_SECS",
        default_value = "10"
    )]
    pub send_timeout_secs: String,
    /// Port of /healthz, /readyz and /metrics.
    #[arg(long, env = "PORT", default_value = "8080")]
    pub port: String,
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0")]
    pub listen_addr: String,
    /// The Neo4j connection (the same settings as the server's).
    #[command(flatten)]
    pub neo4j: crate::config::Neo4jArgs,
    /// `json` or `text`.
    #[arg(long, env = "LOG_FORMAT", default_value = "json")]
    pub log_format: String,
    /// tracing filter, e.g. `info` or `warn,neo4j_sink=debug`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
}

/// The environment variable of a rule parameter: `DETECT_<RULE>_<PARAM>`.
pub fn param_env(rule: &str, param: &str) -> String {
    format!(
        "DETECT_{}_{}",
        rule.to_ascii_uppercase().replace('-', "_"),
        param.to_ascii_uppercase()
    )
}

/// The command line of `neo4j-sink detect`: [`DetectArgs`] plus one flag and
/// variable per rule parameter.
pub fn command() -> Command {
    let mut cmd = DetectArgs::augment_args(Command::new("neo4j-sink detect").about(
        "Raises findings from the audit graph and sends them as CloudEvents (docs/detections.md)",
    ));
    for rule in RULES {
        for p in rule.params {
            let env = param_env(rule.name, p.name);
            let flag = env.to_ascii_lowercase().replace('_', "-");
            let id: &'static str = Box::leak(env.clone().into_boxed_str());
            let long: &'static str = Box::leak(flag.into_boxed_str());
            let envs: &'static str = id;
            cmd = cmd.arg(
                Arg::new(id)
                    .long(long)
                    .env(envs)
                    .default_value(p.default)
                    .help(format!("{}: {}", rule.name, p.description)),
            );
        }
    }
    cmd
}

/// Settings of the detector, checked.
#[derive(Debug, Clone)]
pub struct DetectSettings {
    /// Where findings go.
    pub sink: url::Url,
    /// `K_CE_OVERRIDES` extensions.
    pub overrides: BTreeMap<String, String>,
    /// `K_CA_CERTS`: extra CA certificates (PEM) for an https sink.
    pub ca_pem: Option<Vec<u8>>,
    /// `K_OIDC_TOKEN_FILE`, if set.
    pub oidc_token_file: Option<std::path::PathBuf>,
    /// Between two runs.
    pub interval: Duration,
    /// The detector's name.
    pub name: String,
    /// Watched projects (empty = all).
    pub projects: Vec<String>,
    /// Overlap in ms.
    pub overlap_ms: i64,
    /// First-start lookback in ms.
    pub lookback_ms: i64,
    /// Enabled rules and their values.
    pub rules: RuleSettings,
    /// One run and exit.
    pub once: bool,
    /// Plan the rule queries at start.
    pub warm_up: bool,
    /// CloudEvent retries.
    pub send_retries: u32,
    /// CloudEvent request timeout.
    pub send_timeout: Duration,
    /// Health and metrics port.
    pub port: u16,
    /// Listen address.
    pub listen_addr: IpAddr,
    /// Neo4j connection.
    pub neo4j: Neo4jSettings,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
}

fn err(env: &'static str, rule: impl Into<String>, value: &str) -> ConfigError {
    ConfigError {
        env,
        rule: rule.into(),
        value: value.to_owned(),
    }
}

fn number(env: &'static str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            err(
                env,
                format!("must be a whole number from {min} to {max}"),
                value,
            )
        })
}

fn flag(env: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err(err(env, "must be true or false", value)),
    }
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses and checks the command line and environment of `neo4j-sink detect`.
///
/// Errors: clap's own errors (usage, `--help`) as `Err(Left)`, and a
/// [`ConfigError`] naming the setting as `Err(Right)`.
pub fn parse(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<Result<DetectSettings, ConfigError>, clap::Error> {
    let matches = command().try_get_matches_from(args)?;
    let raw = DetectArgs::from_arg_matches(&matches)?;
    Ok(raw.validate(&matches))
}

impl DetectArgs {
    /// Checks every value; rule parameters are read from `matches`.
    ///
    /// Errors: a [`ConfigError`] naming the setting, the rule and the value.
    pub fn validate(&self, matches: &ArgMatches) -> Result<DetectSettings, ConfigError> {
        let sink = url::Url::parse(self.sink.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                err(
                    "K_SINK",
                    "is required: the http(s) URL findings are sent to, e.g. \
                     http://broker-ingress.knative-eventing.svc.cluster.local/ns/default \
                     (Knative's SinkBinding sets it)",
                    &self.sink,
                )
            })?;
        let overrides = ce_delivery::Overrides::parse(&self.ce_overrides)
            .map_err(|e| err("K_CE_OVERRIDES", e.to_string(), &self.ce_overrides))?
            .extensions;
        let ca_pem = match self.ca_certs.trim() {
            "" => None,
            _ => Some(
                ce_delivery::read_ca_bundle(&self.ca_certs)
                    .map_err(|e| err("K_CA_CERTS", e.to_string(), "(not shown)"))?,
            ),
        };
        let oidc_token_file = match self.oidc_token_file.trim() {
            "" => None,
            p if p.ends_with('/') => {
                return Err(err(
                    "K_OIDC_TOKEN_FILE",
                    "must be a file path, not a directory, e.g. /oidc/token",
                    &self.oidc_token_file,
                ))
            }
            p => Some(std::path::PathBuf::from(p)),
        };
        let interval = Duration::from_secs(number("DETECT_INTERVAL", &self.interval, 1, 86_400)?);
        let name = self.name.trim().to_owned();
        if name.is_empty()
            || name.len() > 100
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(err(
                "DETECT_NAME",
                "must be 1-100 letters, digits, '.', '_' or '-', e.g. default",
                &self.name,
            ));
        }
        let overlap_ms =
            number("DETECT_OVERLAP_SECS", &self.overlap_secs, 0, 7 * 86_400)? as i64 * 1000;
        let lookback_ms = number(
            "DETECT_LOOKBACK_SECS",
            &self.lookback_secs,
            0,
            3650 * 86_400,
        )? as i64
            * 1000;
        let mut rules = RuleSettings::default();
        let wanted = list(&self.rules);
        if !(wanted.len() == 1 && wanted[0] == "all") {
            let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
            rules
                .enable_only(&names)
                .map_err(|e| err("DETECT_RULES", format!("{e}; or `all`"), &self.rules))?;
        }
        let skip = list(&self.skip_rules);
        let names: Vec<&str> = skip.iter().map(String::as_str).collect();
        rules
            .disable(&names)
            .map_err(|e| err("DETECT_SKIP_RULES", e.to_string(), &self.skip_rules))?;
        if rules.enabled().is_empty() {
            return Err(err(
                "DETECT_RULES",
                "leaves no rule to run (with DETECT_SKIP_RULES); name at least one rule",
                &self.rules,
            ));
        }
        for rule in RULES {
            for p in rule.params {
                let env = param_env(rule.name, p.name);
                if let Some(v) = matches.get_one::<String>(&env) {
                    rules.set(rule.name, p.name, v).map_err(|e| ConfigError {
                        env: Box::leak(env.clone().into_boxed_str()),
                        rule: e.to_string(),
                        value: v.clone(),
                    })?;
                }
            }
        }
        let once = flag("DETECT_ONCE", &self.once)?;
        let warm_up = flag("DETECT_WARM_UP", &self.warm_up)?;
        let neo4j = self.neo4j.connection()?;
        let log_format = match self.log_format.trim() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            _ => return Err(err("LOG_FORMAT", "must be json or text", &self.log_format)),
        };
        Ok(DetectSettings {
            sink,
            overrides,
            ca_pem,
            oidc_token_file,
            interval,
            name,
            projects: list(&self.projects),
            overlap_ms,
            lookback_ms,
            rules,
            once,
            warm_up,
            send_retries: number("DETECT_SEND_RETRIES", &self.send_retries, 0, 100)? as u32,
            send_timeout: Duration::from_secs(number(
                "DETECT_SEND_TIMEOUT_SECS",
                &self.send_timeout_secs,
                1,
                600,
            )?),
            port: number("PORT", &self.port, 0, 65_535)? as u16,
            listen_addr: self.listen_addr.trim().parse().map_err(|_| {
                err(
                    "LISTEN_ADDR",
                    "must be an IP address, e.g. 0.0.0.0",
                    &self.listen_addr,
                )
            })?,
            neo4j,
            log_format,
            log_level: self.log_level.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_env(args: &[&str]) -> Result<DetectSettings, String> {
        let mut all = vec!["neo4j-sink detect", "--neo4j-password", "pw"];
        all.extend_from_slice(args);
        match parse(all.into_iter().map(std::ffi::OsString::from)) {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn defaults_and_rule_parameters() {
        let s = parse_env(&["--sink", "http://127.0.0.1:9/x"]).expect("valid");
        assert_eq!(s.interval, Duration::from_secs(60));
        assert_eq!(s.rules.enabled().len(), RULES.len());
        assert_eq!(s.overlap_ms, 300_000);
        let s = parse_env(&[
            "--sink",
            "http://127.0.0.1:9/x",
            "--detect-mass-deletion-threshold",
            "5",
            "--detect-skip-rules",
            "new-source-ip, first-project-for-user",
            "--detect-projects",
            "a,b",
        ])
        .expect("valid");
        let r = trace_graph::detect::find("mass-deletion").expect("rule");
        assert_eq!(s.rules.value(r, "threshold").as_deref(), Some("5"));
        assert_eq!(s.rules.enabled().len(), RULES.len() - 2);
        assert_eq!(s.projects, vec!["a", "b"]);
    }

    #[test]
    fn bad_settings_name_the_variable() {
        for (args, env) in [
            (vec![], "K_SINK"),
            (vec!["--sink", "ftp://x"], "K_SINK"),
            (
                vec!["--sink", "http://x", "--detect-interval", "0"],
                "DETECT_INTERVAL",
            ),
            (
                vec!["--sink", "http://x", "--detect-rules", "nope"],
                "DETECT_RULES",
            ),
            (
                vec![
                    "--sink",
                    "http://x",
                    "--detect-mass-deletion-threshold",
                    "1",
                ],
                "DETECT_MASS_DELETION_THRESHOLD",
            ),
            (
                vec!["--sink", "http://x", "--detect-name", "a/b"],
                "DETECT_NAME",
            ),
            (
                vec![
                    "--sink",
                    "http://x",
                    "--ce-overrides",
                    "{\"extensions\":{\"A\":1}}",
                ],
                "K_CE_OVERRIDES",
            ),
            (
                vec!["--sink", "http://x", "--detect-warm-up", "maybe"],
                "DETECT_WARM_UP",
            ),
            (
                vec!["--sink", "http://x", "--ca-certs", "/nonexistent/ca.pem"],
                "K_CA_CERTS",
            ),
            (
                vec!["--sink", "http://x", "--oidc-token-file", "/oidc/"],
                "K_OIDC_TOKEN_FILE",
            ),
            (
                vec![
                    "--sink",
                    "http://x",
                    "--detect-rules",
                    "kms-key-deletion",
                    "--detect-skip-rules",
                    "kms-key-deletion",
                ],
                "DETECT_RULES",
            ),
        ] {
            let e = parse_env(&args).expect_err("must fail");
            assert!(e.contains(env), "{args:?}: {e}");
        }
    }
}
