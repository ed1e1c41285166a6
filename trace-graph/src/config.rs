//! The writer's settings, checked once before anything connects.
//!
//! [`GraphConfig`] is a plain struct the binary fills from its own flags or
//! environment; [`GraphConfig::validate`] turns nonsense into an
//! [`Error::Config`] naming the field, the rule and the value received.
//! The password sits in a [`Secret`], which never prints.

use crate::error::Error;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A string that must not leak: `Debug` and `Display` print `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
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

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// How to reach Neo4j and how to write to it.
///
/// Build it with [`GraphConfig::new`] and adjust the public fields; the
/// defaults suit a single sink instance.
#[derive(Debug, Clone)]
pub struct GraphConfig {
    /// Bolt URI: `bolt://host:7687`, `neo4j://host:7687` (also `+s`/`+ssc` for TLS).
    /// Must not contain credentials.
    pub uri: String,
    /// Neo4j user name.
    pub user: String,
    /// Neo4j password (never printed).
    pub password: Secret,
    /// Database name; `None` uses the server's default database.
    pub database: Option<String>,
    /// PEM file with the certificate(s) of the CA that signed the server's
    /// certificate, for `bolt+s`/`neo4j+s` against a server with a private CA.
    /// `None` (the default) trusts the system's root certificates. Only valid
    /// with the `+s` schemes (`+ssc` checks no certificate at all).
    pub ca_cert: Option<PathBuf>,
    /// Traces per transaction, 1..=50 000. Default 1000.
    pub batch_size: usize,
    /// Batches of one [`GraphWriter::write`](crate::GraphWriter::write) call
    /// in flight at once, each its own transaction, 1..=16. Default 2: while
    /// the server runs one batch, the client prepares the next and the
    /// server's second core runs it. Rows of every batch are sorted by key,
    /// so concurrent batches take their locks in the same order.
    pub write_concurrency: usize,
    /// How often a transaction is retried after a transient error (deadlock,
    /// dropped connection, leader switch), 0..=50. Default 8.
    pub max_retries: u32,
    /// First retry delay; doubles each retry up to `retry_max_backoff`, with full jitter.
    /// Default 50 ms.
    pub retry_initial_backoff: Duration,
    /// Longest retry delay. Default 5 s.
    pub retry_max_backoff: Duration,
    /// Bolt connections in the pool, 1..=256. Default 16.
    pub max_connections: usize,
    /// How long to wait for a TCP connection to the server, and (neo4rs uses
    /// one timeout for both) for each answer of the server. A batch whose
    /// statement runs longer than this fails as transient, so keep it well
    /// above the time of one batch. Default 30 s.
    pub connect_timeout: Duration,
    /// Whether [`GraphWriter::connect`](crate::GraphWriter::connect) checks
    /// that large Bolt requests are not held by Nagle's algorithm (ten
    /// `RETURN size($p)` round trips; one warning per process with the fix
    /// when they are, see [`crate::latency`]). Default true.
    pub check_bolt_latency: bool,
}

impl GraphConfig {
    /// Settings with defaults for everything but the server and credentials.
    pub fn new(
        uri: impl Into<String>,
        user: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        GraphConfig {
            uri: uri.into(),
            user: user.into(),
            password: password.into(),
            database: None,
            ca_cert: None,
            batch_size: 1000,
            write_concurrency: 2,
            max_retries: 8,
            retry_initial_backoff: Duration::from_millis(50),
            retry_max_backoff: Duration::from_secs(5),
            max_connections: 16,
            connect_timeout: Duration::from_secs(30),
            check_bolt_latency: true,
        }
    }

    /// Checks every setting; the error names the field, the rule and the value.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |setting: &'static str, problem: String| Err(Error::Config { setting, problem });
        let uri = self.uri.trim();
        let scheme = uri.split("://").next().unwrap_or("");
        let known = [
            "bolt",
            "bolt+s",
            "bolt+ssc",
            "neo4j",
            "neo4j+s",
            "neo4j+ssc",
        ];
        if !uri.contains("://") || !known.contains(&scheme) {
            return bad(
                "uri",
                format!(
                    "expected a Bolt URI such as bolt://localhost:7687 (schemes: {}), got {uri:?}",
                    known.join(", ")
                ),
            );
        }
        let authority = uri[scheme.len() + 3..].split('/').next().unwrap_or("");
        if authority.contains('@') {
            return bad(
                "uri",
                "the URI contains credentials (user@host); pass them as user and password instead"
                    .to_owned(),
            );
        }
        if authority.is_empty() {
            return bad("uri", format!("the URI has no host, got {uri:?}"));
        }
        if let Some(path) = &self.ca_cert {
            if !scheme.ends_with("+s") {
                return bad(
                    "ca_cert",
                    format!(
                        "a CA certificate is only used with the bolt+s or neo4j+s schemes (they \
                         verify the server's certificate), but the URI scheme is {scheme}; use \
                         {}+s://... or drop the CA certificate",
                        scheme.trim_end_matches("+ssc")
                    ),
                );
            }
            check_ca_file(path).or_else(|problem| bad("ca_cert", problem))?;
        }
        if self.user.trim().is_empty() {
            return bad(
                "user",
                "must not be empty (Neo4j's default is `neo4j`)".to_owned(),
            );
        }
        if let Some(db) = &self.database {
            if db.trim().is_empty() {
                return bad(
                    "database",
                    "must not be empty; use None for the server's default database".to_owned(),
                );
            }
        }
        if !(1..=50_000).contains(&self.batch_size) {
            return bad(
                "batch_size",
                format!("must be 1..=50000 (e.g. 1000), got {}", self.batch_size),
            );
        }
        if !(1..=16).contains(&self.write_concurrency) {
            return bad(
                "write_concurrency",
                format!("must be 1..=16 (e.g. 2), got {}", self.write_concurrency),
            );
        }
        if self.max_retries > 50 {
            return bad(
                "max_retries",
                format!("must be 0..=50 (e.g. 8), got {}", self.max_retries),
            );
        }
        if self.retry_initial_backoff.is_zero()
            || self.retry_initial_backoff > self.retry_max_backoff
        {
            return bad(
                "retry_initial_backoff",
                format!(
                    "must be above zero and at most retry_max_backoff ({:?}), got {:?}",
                    self.retry_max_backoff, self.retry_initial_backoff
                ),
            );
        }
        if !(1..=256).contains(&self.max_connections) {
            return bad(
                "max_connections",
                format!("must be 1..=256 (e.g. 16), got {}", self.max_connections),
            );
        }
        if self.connect_timeout.is_zero() {
            return bad(
                "connect_timeout",
                "must be above zero (e.g. 30 s)".to_owned(),
            );
        }
        Ok(())
    }
}

/// The file must be readable and hold at least one PEM certificate.
fn check_ca_file(path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read the CA certificate file {}: {e}",
            path.display()
        )
    })?;
    let needle = b"-----BEGIN CERTIFICATE-----";
    if !text.windows(needle.len()).any(|w| w == needle) {
        return Err(format!(
            "{} holds no PEM certificate (no \"-----BEGIN CERTIFICATE-----\" line); give the \
             CA certificate in PEM form, e.g. the ca.crt the server's certificate was signed with",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> GraphConfig {
        GraphConfig::new("bolt://localhost:7687", "neo4j", "hunter2-very-secret")
    }

    #[test]
    fn password_never_printed() {
        let c = cfg();
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("***"));
        assert_eq!(c.password.to_string(), "***");
        assert_eq!(c.password.expose(), "hunter2-very-secret");
    }

    #[test]
    fn defaults_are_valid() {
        cfg().validate().expect("defaults valid");
        let mut c = cfg();
        c.uri = "neo4j+s://graph.example.com".into();
        c.validate().expect("TLS routing scheme valid");
    }

    #[test]
    fn bad_settings_name_the_field() {
        type Change = fn(&mut GraphConfig);
        let cases: Vec<(Change, &str)> = vec![
            (|c| c.uri = "localhost:7687".into(), "uri"),
            (|c| c.uri = "http://localhost:7474".into(), "uri"),
            (|c| c.uri = "bolt://neo4j:pw@localhost".into(), "uri"),
            (|c| c.uri = "bolt://".into(), "uri"),
            (|c| c.user = " ".into(), "user"),
            (|c| c.database = Some(String::new()), "database"),
            (|c| c.batch_size = 0, "batch_size"),
            (|c| c.write_concurrency = 0, "write_concurrency"),
            (|c| c.write_concurrency = 17, "write_concurrency"),
            (|c| c.max_retries = 51, "max_retries"),
            (
                |c| c.retry_initial_backoff = Duration::ZERO,
                "retry_initial_backoff",
            ),
            (|c| c.max_connections = 0, "max_connections"),
            (|c| c.connect_timeout = Duration::ZERO, "connect_timeout"),
            (|c| c.ca_cert = Some("/no/such/ca.crt".into()), "ca_cert"),
        ];
        for (change, field) in cases {
            let mut c = cfg();
            change(&mut c);
            match c.validate() {
                Err(Error::Config { setting, problem }) => {
                    assert_eq!(setting, field, "{problem}");
                    assert!(!problem.contains("hunter2"));
                }
                other => panic!("{field}: expected a config error, got {other:?}"),
            }
        }
    }

    #[test]
    fn ca_cert_needs_a_verifying_scheme_and_a_pem_file() {
        let problem = |c: &GraphConfig| match c.validate() {
            Err(Error::Config { setting, problem }) => {
                assert_eq!(setting, "ca_cert");
                problem
            }
            other => panic!("expected a ca_cert error, got {other:?}"),
        };
        let dir = std::env::temp_dir().join(format!("tg-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let pem = dir.join("ca.crt");
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let not_pem = dir.join("ca.der");
        std::fs::write(&not_pem, [0x30, 0x82, 0x01]).expect("write");

        let mut c = cfg();
        c.ca_cert = Some(pem.clone());
        for uri in [
            "bolt://h:7687",
            "neo4j://h",
            "bolt+ssc://h",
            "neo4j+ssc://h",
        ] {
            c.uri = uri.into();
            let p = problem(&c);
            assert!(p.contains("only used with the bolt+s or neo4j+s"), "{p}");
        }
        c.uri = "neo4j+ssc://h".into();
        assert!(problem(&c).contains("use neo4j+s://"), "{}", problem(&c));

        c.uri = "neo4j+s://h".into();
        c.validate().expect("PEM file with neo4j+s");
        c.uri = "bolt+s://h".into();
        c.validate().expect("PEM file with bolt+s");

        c.ca_cert = Some(not_pem.clone());
        let p = problem(&c);
        assert!(
            p.contains("holds no PEM certificate") && p.contains("ca.der"),
            "{p}"
        );
        c.ca_cert = Some(dir.join("missing.crt"));
        let p = problem(&c);
        assert!(
            p.contains("cannot read the CA certificate file") && p.contains("missing.crt"),
            "{p}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
