//! Cloud configuration: which IAM to talk to, as whom, for which project and region.
//!
//! [`load_cloud`] reads `clouds.yaml` (+ `secure.yaml`) and the `OS_*` environment the way OpenStack
//! tools do and returns a validated [`CloudConfig`]. Precedence, in one line: secure.yaml, then
//! clouds.yaml, then the environment, then the vendor profile; the region falls back to
//! `OS_REGION_NAME` before it is derived from the project name. <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/authentication.md> has the full
//! rules.

mod env;
mod files;
mod options;
mod raw;
mod resolve;

use std::path::PathBuf;

use url::Url;

pub use options::LoadOptions;

use crate::sign::SignatureForm;
use crate::{Error, Secret};

/// A validated cloud: every field is ready to use.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CloudConfig {
    /// The cloud's name (the clouds.yaml key, or `envvars` for environment-only configuration).
    pub name: String,
    /// The IAM v3 endpoint, without a trailing slash, e.g. `https://iam.eu-de.otc.t-systems.com/v3`.
    pub auth_url: Url,
    /// The region, e.g. `eu-de`: `region_name`, else `OS_REGION_NAME`, else the `project_name` prefix.
    pub region: String,
    /// The catalog interface to use: `public` (default), `internal` or `admin`.
    pub interface: String,
    /// The project name, e.g. `eu-de_myproject`.
    pub project_name: Option<String>,
    /// The project id, when configured.
    pub project_id: Option<String>,
    /// The project's domain (for scoping by project name); defaults to the user's domain.
    pub project_domain: Option<DomainRef>,
    /// An explicitly configured domain id (project, user or plain `domain_id`), if any.
    pub domain_id: Option<String>,
    /// How to authenticate.
    pub credentials: Credentials,
    /// Verify TLS certificates (`verify: false` / `OS_INSECURE=true` turns this off).
    pub verify_tls: bool,
    /// Extra CA certificate (PEM) to trust (`cacert` / `OS_CACERT`).
    pub ca_cert: Option<PathBuf>,
    /// The form AK/SK requests are signed in first (`aksk_signing` / `OS_AKSK_SIGNING`): the OTC
    /// SDK's by default. After a gateway signature error the other form is tried once.
    pub aksk_signing: SignatureForm,
    /// Where the configuration came from (file paths and/or `environment`), for messages.
    pub origin: String,
}

impl CloudConfig {
    /// A cloud with the given essentials; interface `public`, TLS verified, no project or domain set
    /// (set the public fields afterwards). Mostly for tests and emulators: real configuration comes
    /// from [`load_cloud`].
    pub fn new(
        name: impl Into<String>,
        auth_url: Url,
        region: impl Into<String>,
        credentials: Credentials,
    ) -> Self {
        Self {
            name: name.into(),
            auth_url,
            region: region.into(),
            interface: "public".to_owned(),
            project_name: None,
            project_id: None,
            project_domain: None,
            domain_id: None,
            credentials,
            verify_tls: true,
            ca_cert: None,
            aksk_signing: SignatureForm::default(),
            origin: "constructed in code".to_owned(),
        }
    }
}

/// A domain given by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    /// A domain id.
    Id(String),
    /// A domain name, on OTC the account name such as `OTC00000000001000000xxx`.
    Name(String),
}

/// A user given by id or by name within a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// A user id.
    Id(String),
    /// A user name and the domain it lives in.
    Name {
        /// The user name.
        name: String,
        /// The user's domain.
        domain: DomainRef,
    },
}

/// The credential used to authenticate. `Debug` never shows secrets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Credentials {
    /// Keystone password authentication; yields a project-scoped token.
    Password {
        /// The user.
        user: UserRef,
        /// The password.
        password: Secret,
    },
    /// Access key / secret key: every request is signed (SDK-HMAC-SHA256), no token.
    AkSk {
        /// The access key id (not secret; it appears in the `Authorization` header).
        access_key: String,
        /// The secret key.
        secret_key: Secret,
        /// The security token of temporary credentials, sent as `X-Security-Token`.
        security_token: Option<Secret>,
    },
    /// An existing token, exchanged for a project-scoped token (Keystone `token` method).
    Token(Secret),
}

impl Credentials {
    /// Describes the credential without secrets, for messages: `password of user 'alice' (domain name 'OTC...')`,
    /// `access key 'AK...'`, `token`.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Password { user, .. } => match user {
                UserRef::Id(id) => format!("password of user id '{id}'"),
                UserRef::Name { name, domain } => {
                    let d = match domain {
                        DomainRef::Id(i) => format!("domain id '{i}'"),
                        DomainRef::Name(n) => format!("domain '{n}'"),
                    };
                    format!("password of user '{name}' in {d}")
                }
            },
            Credentials::AkSk { access_key, .. } => format!("access key '{access_key}'"),
            Credentials::Token(_) => "the configured token (auth.token / OS_TOKEN)".to_owned(),
        }
    }
}

/// Loads one cloud.
///
/// `cloud` selects it by name; `None` means `OS_CLOUD` from `opts.env`, else the only cloud defined.
/// Values missing from the selected file cloud are filled from the `OS_*` variables of `opts.env`
/// (file wins). Without any clouds file, the environment alone forms a cloud named `envvars`
/// (or `OS_CLOUD_NAME`).
///
/// # Errors
/// [`Error::NoConfig`] (lists every path searched), [`Error::UnknownCloud`] / [`Error::AmbiguousCloud`]
/// (list the clouds that exist), [`Error::Parse`] (file, line, column), [`Error::MissingField`] /
/// [`Error::InvalidField`] (name the field, the cloud and its origin), [`Error::Unsupported`].
pub fn load_cloud(opts: &LoadOptions, cloud: Option<&str>) -> Result<CloudConfig, Error> {
    let files = files::load(opts)?;
    let env_cloud = env::cloud_from_env(opts);
    let env_name = env::env_cloud_name(opts);
    if env_cloud.is_some() && files.clouds.contains_key(&env_name) {
        return Err(Error::CloudNameCollision {
            name: env_name,
            origin: files.origin(),
        });
    }
    let requested = cloud
        .filter(|c| !c.is_empty())
        .or_else(|| opts.var("OS_CLOUD"))
        .map(str::to_owned);
    let no_files = files.clouds_path.is_none() && files.secure_path.is_none();

    let (name, mut raw, from_file) = match requested {
        Some(name) => {
            if let Some(c) = files.clouds.get(&name) {
                (name, c.clone(), true)
            } else if let (true, Some(e)) = (name == env_name, env_cloud.as_ref()) {
                (name, e.clone(), false)
            } else if no_files && env_cloud.is_none() {
                return Err(Error::NoConfig {
                    searched: files.searched,
                });
            } else {
                let mut available: Vec<String> = files.clouds.keys().cloned().collect();
                if env_cloud.is_some() {
                    available.push(format!("{env_name} (from OS_* variables)"));
                }
                return Err(Error::UnknownCloud {
                    name,
                    origin: if no_files {
                        "the environment".to_owned()
                    } else {
                        files.origin()
                    },
                    available,
                });
            }
        }
        None => {
            let mut iter = files.clouds.iter();
            match (iter.next(), iter.next()) {
                (Some((n, c)), None) => (n.clone(), c.clone(), true),
                (Some(_), Some(_)) => {
                    return Err(Error::AmbiguousCloud {
                        origin: files.origin(),
                        available: files.clouds.keys().cloned().collect(),
                    })
                }
                (None, _) => match (&env_cloud, &files.clouds_path) {
                    (Some(e), _) => (env_name, e.clone(), false),
                    (None, Some(p)) => return Err(Error::NoClouds { path: p.clone() }),
                    (None, None) => {
                        return Err(Error::NoConfig {
                            searched: files.searched,
                        })
                    }
                },
            }
        }
    };

    let origin = if from_file {
        let layer = env::env_layer(opts);
        raw.fill_from(&layer);
        if env::is_used(&layer) {
            format!("{} + OS_* environment", files.origin())
        } else {
            files.origin()
        }
    } else {
        "OS_* environment variables".to_owned()
    };
    let config = resolve::resolve(name, raw, origin)?;
    tracing::debug!(
        cloud = %config.name,
        origin = %config.origin,
        auth_url = %config.auth_url,
        region = %config.region,
        credential = %config.credentials.describe(),
        "cloud configuration loaded"
    );
    Ok(config)
}
