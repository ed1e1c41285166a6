//! The one error type of this crate.
//!
//! Every variant says what went wrong *and* what to do about it: which paths were searched, which
//! clouds exist, which field or environment variable is missing, which credential IAM rejected.
//! No variant ever carries a password, secret key or token.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Everything that can go wrong while loading configuration or talking to IAM.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No `clouds.yaml` was found and the environment holds no `OS_*` credentials.
    #[error(
        "no clouds.yaml found and no OS_* credentials in the environment; searched: {}. \
         Create one of these files (see clouds.tpl), point OS_CLIENT_CONFIG_FILE at one, \
         or set OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/OS_PROJECT_NAME/OS_USER_DOMAIN_NAME (or OS_ACCESS_KEY/OS_SECRET_KEY)",
        join_paths(.searched)
    )]
    NoConfig {
        /// Every path that was tried, in order.
        searched: Vec<PathBuf>,
    },

    /// An environment variable names a file that does not exist.
    #[error("{var} points to {}, which does not exist; fix the path or unset {var}", .path.display())]
    ConfigFileMissing {
        /// The variable (`OS_CLIENT_CONFIG_FILE` or `OS_CLIENT_SECURE_FILE`).
        var: &'static str,
        /// The path it names.
        path: PathBuf,
    },

    /// A configuration file exists but could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A configuration file is not valid YAML/JSON or has a value of the wrong type.
    #[error("{}{}: {message}", .path.display(), location(*.line, *.column))]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// 1-based column, when the parser knows it.
        column: Option<usize>,
        /// The parser's message, plus a hint where one helps.
        message: String,
    },

    /// The requested cloud is not defined anywhere.
    #[error(
        "cloud '{name}' not found in {origin}; clouds that exist: {}. Set OS_CLOUD to one of them",
        join_names(.available)
    )]
    UnknownCloud {
        /// The requested name.
        name: String,
        /// Where the clouds came from (a file path).
        origin: String,
        /// The names that do exist.
        available: Vec<String>,
    },

    /// Several clouds exist and none was selected.
    #[error(
        "{origin} defines several clouds ({}) and none was selected; set OS_CLOUD to one of them",
        join_names(.available)
    )]
    AmbiguousCloud {
        /// Where the clouds came from.
        origin: String,
        /// The names that exist.
        available: Vec<String>,
    },

    /// A configuration file defines no clouds at all.
    #[error("{} defines no clouds (expected a top-level `clouds:` mapping, see clouds.tpl)", .path.display())]
    NoClouds {
        /// The file.
        path: PathBuf,
    },

    /// The environment-only cloud has the same name as a cloud from a file.
    #[error(
        "the environment variables form a cloud named '{name}', but {origin} also defines a cloud '{name}'; \
         rename one of them or set OS_CLOUD_NAME to another name"
    )]
    CloudNameCollision {
        /// The colliding name.
        name: String,
        /// The file that defines it too.
        origin: String,
    },

    /// A required setting is missing.
    #[error("cloud '{cloud}' ({origin}): {field} is missing; {hint}")]
    MissingField {
        /// The cloud.
        cloud: String,
        /// Where the cloud was defined (file path and/or environment).
        origin: String,
        /// The field, e.g. `auth.user_domain_name`.
        field: String,
        /// What to set, e.g. the environment variable that would also work.
        hint: String,
    },

    /// A setting has a value that cannot be used.
    #[error("cloud '{cloud}' ({origin}): {field} = '{value}' is invalid: {problem}")]
    InvalidField {
        /// The cloud.
        cloud: String,
        /// Where the cloud was defined.
        origin: String,
        /// The field.
        field: String,
        /// The value given (never a secret).
        value: String,
        /// What is wrong and what is allowed.
        problem: String,
    },

    /// The configuration asks for something this crate does not implement.
    #[error("cloud '{cloud}': {feature} is not supported by otc-auth; {hint}")]
    Unsupported {
        /// The cloud.
        cloud: String,
        /// The feature, e.g. `agency authentication (auth.target_agency_name)`.
        feature: String,
        /// What to use instead.
        hint: String,
    },

    /// IAM (or a service) could not be reached or the connection failed.
    #[error("request to {url} failed: {message}")]
    Http {
        /// The URL (IAM URLs carry no secrets).
        url: String,
        /// The transport error.
        message: String,
    },

    /// IAM answered 401: the credential was rejected.
    #[error("IAM at {url} rejected {credential} (401 Unauthorized: {message}); check that credential and the domain/project in clouds.yaml")]
    Unauthorized {
        /// Which credential, e.g. `password of user 'alice' in domain 'OTC00...'` or `access key 'AK...'`.
        credential: String,
        /// The IAM URL.
        url: String,
        /// IAM's message.
        message: String,
    },

    /// IAM answered with another error status.
    #[error("IAM at {url} answered {status}: {message}")]
    Iam {
        /// HTTP status code.
        status: u16,
        /// The IAM URL.
        url: String,
        /// IAM's message.
        message: String,
    },

    /// IAM answered successfully but the response cannot be used.
    #[error("unexpected response from {url}: {problem}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What was wrong.
        problem: String,
    },

    /// IAM knows no project of that name (AK/SK project lookup).
    #[error(
        "IAM returned no project named '{name}' for {credential}; check auth.project_name          (e.g. eu-de_myproject) or set auth.project_id"
    )]
    ProjectNotFound {
        /// The project name looked up.
        name: String,
        /// Which credential looked it up (never the secret).
        credential: String,
    },

    /// The service catalog has no endpoint for the requested service.
    #[error(
        "the service catalog has no '{service_type}' endpoint with interface '{interface}' in region '{region}'; \
         the catalog offers: {}. Check region_name/interface in clouds.yaml",
        join_names(.available)
    )]
    EndpointNotFound {
        /// The service type asked for.
        service_type: String,
        /// The interface asked for.
        interface: String,
        /// The region asked for.
        region: String,
        /// `type/interface/region` of every catalog endpoint.
        available: Vec<String>,
    },

    /// A request cannot be authorized (e.g. a header value is not valid).
    #[error("cannot authorize request: {0}")]
    Request(String),
}

impl Error {
    /// True for failures that may go away on retry: transport errors, HTTP 429 and 5xx from IAM.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Http { .. } => true,
            Error::Iam { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// True for problems of the configuration itself (clouds.yaml,
    /// secure.yaml, the environment): the user must fix it, and no retry or
    /// IAM call will help. False for what IAM answered or a failed call.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            Error::NoConfig { .. }
                | Error::ConfigFileMissing { .. }
                | Error::Read { .. }
                | Error::Parse { .. }
                | Error::UnknownCloud { .. }
                | Error::AmbiguousCloud { .. }
                | Error::NoClouds { .. }
                | Error::CloudNameCollision { .. }
                | Error::MissingField { .. }
                | Error::InvalidField { .. }
                | Error::Unsupported { .. }
        )
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    let mut out = String::new();
    for (i, p) in paths.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}", p.display());
    }
    out
}

fn join_names(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" line {l} column {c}"),
        (Some(l), None) => format!(" line {l}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_problems_are_told_from_iam_failures() {
        let no_config = Error::NoConfig {
            searched: vec![PathBuf::from("/ä/clouds.yaml")],
        };
        assert!(no_config.is_configuration() && !no_config.is_retryable());
        let iam = Error::Iam {
            status: 503,
            url: "https://iam".into(),
            message: String::new(),
        };
        assert!(!iam.is_configuration() && iam.is_retryable());
        let refused = Error::Unauthorized {
            credential: "password".into(),
            url: "https://iam".into(),
            message: "no".into(),
        };
        assert!(!refused.is_configuration() && !refused.is_retryable());
        assert!(!Error::Request("x".into()).is_configuration());
    }
}
