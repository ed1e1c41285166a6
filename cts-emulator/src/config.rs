//! Typed configuration of an emulator instance: tenant layout, data volume,
//! timing, fault injection and response shape. Validation happens once, in
//! [`EmulatorConfig::validate`], so the rest of the crate can trust the values.

use std::fmt;
use std::time::Duration;

use crate::Error;

/// A secret string (password, secret key). `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Only call this where the value is really needed
    /// (signature checks, clouds.yaml output).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The credentials the emulator accepts: one IAM user with a password and one
/// permanent AK/SK pair belonging to that user.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// IAM user name for password authentication.
    pub username: String,
    /// Password of that user.
    pub password: Secret,
    /// Access key id for AK/SK signing.
    pub ak: String,
    /// Secret access key for AK/SK signing.
    pub sk: Secret,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            username: "demo-user".to_owned(),
            password: Secret::new("demo-password"),
            ak: "EMULATORAK0000000001".to_owned(),
            sk: Secret::new("EmulatorSecretKey0000000000000000000000001"),
        }
    }
}

/// Injected failures and slowness on the CTS routes (not on IAM).
///
/// Shares are probabilities in `0.0..=1.0`, drawn per request from a seeded
/// random source; `rate_limited_share + server_error_share` must not exceed 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Share of CTS requests answered `429 Too Many Requests` with `Retry-After`.
    pub rate_limited_share: f64,
    /// Value of the `Retry-After` header (whole seconds) on injected 429 answers.
    pub retry_after_secs: u64,
    /// Share of CTS requests answered `500` with a `CTS.0005` body.
    pub server_error_share: f64,
    /// Share of CTS requests that are answered only after `slow_delay`.
    pub slow_share: f64,
    /// Extra latency of a slow answer.
    pub slow_delay: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limited_share: 0.0,
            retry_after_secs: 1,
            server_error_share: 0.0,
            slow_share: 0.0,
            slow_delay: Duration::from_millis(500),
        }
    }
}

/// Which JSON shape traces are written in (see cts-api.md §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shape {
    /// The inferred real wire shape: `code` a string, `user` an object,
    /// `request`/`response` JSON documents serialized into strings.
    #[default]
    Real,
    /// The documented example shape: `code` a number, `response` an object.
    Doc,
}

/// Name of the status field (and query parameter) on the v2.0 trace API,
/// which the sources disagree on (cts-api.md §1.1, \[CONFLICT\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum V2StatusField {
    /// `trace_rating`, as the current OTC v2.0 documentation says.
    TraceRating,
    /// `trace_status`, as the 2022 documentation and the official OTC SDK
    /// (gophertelekomcloud, which reads no other name) say. The default.
    #[default]
    TraceStatus,
}

impl V2StatusField {
    /// The JSON field name.
    pub fn as_str(self) -> &'static str {
        match self {
            V2StatusField::TraceRating => "trace_rating",
            V2StatusField::TraceStatus => "trace_status",
        }
    }
}

/// Everything an emulator instance needs to know.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Seed of every random choice (ids, users, traces, delays, faults).
    pub seed: u64,
    /// Name of the single domain (account), e.g. `OTC00000000001000000001`.
    pub domain_name: String,
    /// Project names, `<region>` or `<region>_<subproject>`, e.g. `eu-de_app1`.
    pub projects: Vec<String>,
    /// Number of IAM users performing operations (shared by all projects).
    pub users: usize,
    /// Traces per project generated at start, spread over `history_span` before now.
    pub history_count: usize,
    /// Time span the history covers, ending at start time.
    pub history_span: Duration,
    /// New traces per second and project while running (0 = none).
    pub live_rate_per_sec: f64,
    /// A trace becomes visible (gets its `record_time`) a random delay in
    /// `0..=max_ingestion_delay` after its `time`.
    pub max_ingestion_delay: Duration,
    /// Injected failures on the CTS routes.
    pub faults: Faults,
    /// JSON shape of traces.
    pub shape: Shape,
    /// Status field name on the v2.0 API.
    pub v2_status_field: V2StatusField,
    /// Accepted credentials.
    pub credentials: Credentials,
    /// Lifetime of issued tokens (OTC: 24 h).
    pub token_ttl: Duration,
    /// Put `marker` = last trace id on the final page too, instead of `null`
    /// (the real behaviour is \[UNKNOWN\]; this exercises client loops).
    pub marker_on_last_page: bool,
    /// Also list a `ctsv3` catalog entry (`<base>/v3/<project_id>`); its
    /// existence on OTC is \[UNKNOWN\], so it is off by default.
    pub catalog_ctsv3: bool,
    /// Scenarios added to the history (docs/emulator.md); any scenario also
    /// turns on story mode (one home project and one address per user).
    pub scenarios: Vec<crate::generator::Scenario>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            seed: 42,
            domain_name: "OTC00000000001000000001".to_owned(),
            projects: vec!["eu-de_demo".to_owned()],
            users: 24,
            history_count: 1000,
            history_span: Duration::from_secs(86_400),
            live_rate_per_sec: 0.0,
            max_ingestion_delay: Duration::from_secs(0),
            faults: Faults::default(),
            shape: Shape::Real,
            v2_status_field: V2StatusField::TraceStatus,
            credentials: Credentials::default(),
            token_ttl: Duration::from_secs(86_400),
            marker_on_last_page: false,
            catalog_ctsv3: false,
            scenarios: Vec::new(),
        }
    }
}

/// Largest history per project (each trace costs about 1 KB).
const MAX_HISTORY_COUNT: usize = 5_000_000;

/// The longest history a project may hold: CTS keeps seven days, the
/// emulator allows some more so archives and the 7-day clamp can be tested.
const MAX_HISTORY_SPAN: Duration = Duration::from_secs(30 * 86_400);

impl EmulatorConfig {
    /// Checks every value, returning the first problem with its fix.
    pub fn validate(&self) -> Result<(), Error> {
        if self.projects.is_empty() {
            return Err(Error::config(
                "projects",
                "no project given",
                "name at least one project, e.g. `eu-de_demo`",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.projects {
            crate::ids::validate_project_name(p)?;
            if !seen.insert(p) {
                return Err(Error::config(
                    "projects",
                    format!("project `{p}` listed twice"),
                    "list each project once",
                ));
            }
        }
        if self.domain_name.trim().is_empty() || self.domain_name.len() > 64 {
            return Err(Error::config(
                "domain_name",
                format!(
                    "`{}` is empty or longer than 64 characters",
                    self.domain_name
                ),
                "use an account name like `OTC00000000001000000001`",
            ));
        }
        if self.users == 0 || self.users > 10_000 {
            return Err(Error::config(
                "users",
                format!("{} is outside 1..=10000", self.users),
                "use e.g. 24",
            ));
        }
        if self.history_span > MAX_HISTORY_SPAN {
            return Err(Error::config(
                "history_span",
                format!("{} s is longer than 30 days", self.history_span.as_secs()),
                "use at most 2592000 s (CTS itself keeps 7 days)",
            ));
        }
        if self.history_count > MAX_HISTORY_COUNT {
            return Err(Error::config(
                "history_count",
                format!("{} traces per project exceed the limit of {MAX_HISTORY_COUNT}", self.history_count),
                "use at most 5000000 (about 5 GB of memory); benchmarks rarely need more than 1000000",
            ));
        }
        let span_ms = self.history_span.as_millis();
        if self.history_count > 0 && (self.history_count as u128) > span_ms {
            return Err(Error::config(
                "history_count",
                format!(
                    "{} traces do not fit into {} ms with a unique record_time each",
                    self.history_count, span_ms
                ),
                "use a longer history_span or fewer traces (at most one per millisecond)",
            ));
        }
        if !self.live_rate_per_sec.is_finite()
            || self.live_rate_per_sec < 0.0
            || self.live_rate_per_sec > 100_000.0
        {
            return Err(Error::config(
                "live_rate_per_sec",
                format!("{} is outside 0..=100000", self.live_rate_per_sec),
                "use e.g. 2 traces per second, or 0 for none",
            ));
        }
        if self.max_ingestion_delay > Duration::from_secs(3600) {
            return Err(Error::config(
                "max_ingestion_delay",
                "longer than one hour",
                "use a few seconds, e.g. 30 s",
            ));
        }
        self.validate_faults()?;
        let c = &self.credentials;
        if c.username.is_empty()
            || c.password.expose().is_empty()
            || c.ak.is_empty()
            || c.sk.expose().is_empty()
        {
            return Err(Error::config(
                "credentials",
                "username, password, ak and sk must all be non-empty",
                "set all four",
            ));
        }
        if self.token_ttl < Duration::from_secs(1) {
            return Err(Error::config(
                "token_ttl",
                "shorter than one second",
                "use e.g. 86400 s (OTC's 24 h)",
            ));
        }
        Ok(())
    }

    fn validate_faults(&self) -> Result<(), Error> {
        let f = &self.faults;
        for (name, v) in [
            ("faults.rate_limited_share", f.rate_limited_share),
            ("faults.server_error_share", f.server_error_share),
            ("faults.slow_share", f.slow_share),
        ] {
            if !(0.0..=1.0).contains(&v) || v.is_nan() {
                return Err(Error::config(
                    name,
                    format!("{v} is not a share in 0.0..=1.0"),
                    "use e.g. 0.05 for 5 %",
                ));
            }
        }
        if f.rate_limited_share + f.server_error_share > 1.0 {
            return Err(Error::config(
                "faults",
                "rate_limited_share + server_error_share exceed 1.0",
                "lower one of them so their sum is at most 1.0",
            ));
        }
        if f.slow_delay > Duration::from_secs(600) {
            return Err(Error::config(
                "faults.slow_delay",
                "longer than 10 minutes",
                "use e.g. 500 ms",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        EmulatorConfig::default()
            .validate()
            .expect("default config validates");
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let cfg = EmulatorConfig::default();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains(cfg.credentials.password.expose()));
        assert!(!dbg.contains(cfg.credentials.sk.expose()));
        assert!(
            dbg.contains(&cfg.credentials.ak),
            "non-secret values stay visible"
        );
    }

    #[test]
    fn rejects_bad_values_naming_the_setting() {
        let mut cfg = EmulatorConfig {
            projects: vec![],
            ..EmulatorConfig::default()
        };
        assert!(cfg
            .validate()
            .expect_err("must be refused")
            .to_string()
            .contains("`projects`"));
        cfg.projects = vec!["eu-de_a".into(), "eu-de_a".into()];
        assert!(cfg
            .validate()
            .expect_err("must be refused")
            .to_string()
            .contains("twice"));
        cfg = EmulatorConfig {
            history_count: 100,
            history_span: Duration::from_millis(10),
            ..EmulatorConfig::default()
        };
        assert!(cfg
            .validate()
            .expect_err("must be refused")
            .to_string()
            .contains("`history_count`"));
        cfg = EmulatorConfig {
            history_count: 6_000_000,
            ..EmulatorConfig::default()
        };
        assert!(cfg
            .validate()
            .expect_err("must be refused")
            .to_string()
            .contains("exceed the limit"));
        cfg = EmulatorConfig::default();
        cfg.faults.rate_limited_share = 0.7;
        cfg.faults.server_error_share = 0.5;
        assert!(cfg
            .validate()
            .expect_err("must be refused")
            .to_string()
            .contains("exceed 1.0"));
        cfg = EmulatorConfig {
            live_rate_per_sec: f64::NAN,
            ..EmulatorConfig::default()
        };
        assert!(cfg
            .validate()
            .expect_err("must be refused")
            .to_string()
            .contains("`live_rate_per_sec`"));
    }
}
