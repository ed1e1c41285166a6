//! Authentication for Open Telekom Cloud (OTC) APIs.
//!
//! This crate does three things:
//!
//! 1. **Configuration**: [`load_cloud`] finds `clouds.yaml` the OpenStack way (`OS_CLIENT_CONFIG_FILE`,
//!    `./`, `~/.config/openstack/`, `/etc/openstack/`), merges `secure.yaml`, fills gaps from the `OS_*`
//!    environment, applies the `profile: otc` vendor defaults and returns a validated [`CloudConfig`].
//! 2. **Authentication**: [`AuthProvider`] obtains a project-scoped IAM token (password), caches it and
//!    refreshes it before it expires, with one refresh shared by all concurrent callers; or, with AK/SK
//!    credentials, signs every request. It also finds service endpoints in the catalog.
//! 3. **Signing**: [`sign::sign`] is the `SDK-HMAC-SHA256` signer as a pure function, in the OTC SDK's
//!    form (the default) or the signing guide's ([`SignatureForm`]), tested against the SDK's own
//!    signatures and the guide's published vectors.
//!
//! Service clients depend only on the [`RequestAuthorizer`] trait. Secrets are wrapped in [`Secret`],
//! which prints `***`; they never appear in `Debug`, errors or logs. The crate reads the process
//! environment only in [`LoadOptions::from_process`]. docs/authentication.md describes the precedence
//! rules in full.
//!
//! # Example
//!
//! ```no_run
//! use otc_auth::{load_cloud, AuthProvider, LoadOptions, RequestAuthorizer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // OS_CLOUD (or the only cloud in clouds.yaml) selects the cloud.
//! let cloud = load_cloud(&LoadOptions::from_process(), None)?;
//! let auth = AuthProvider::new(cloud)?;
//!
//! let cts = auth.endpoint("cts").await?; // e.g. https://cts.eu-de.otc.t-systems.com/v1.0/<project>/
//! let url = cts.join("tracker")?;
//! let mut headers = http::HeaderMap::new();
//! auth.authorize(&http::Method::GET, &url, &mut headers, b"").await?;
//! // ... send the request with `headers`; after a 401 call `auth.refused(&headers, 401, &body).await`
//! // and retry once; on any other answer call `auth.accepted(&headers)`.
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod authorizer;
mod catalog;
mod clock;
mod config;
mod error;
mod provider;
mod secret;
pub mod sign;

pub use authorizer::{RequestAuthorizer, StaticToken, X_AUTH_TOKEN};
pub use catalog::{Catalog, CatalogEndpoint, CatalogEntry};
pub use clock::{Clock, SystemClock};
pub use config::{load_cloud, CloudConfig, Credentials, DomainRef, LoadOptions, UserRef};
pub use error::Error;
pub use provider::{AuthProvider, ProviderOptions};
pub use secret::Secret;
pub use sign::SignatureForm;
