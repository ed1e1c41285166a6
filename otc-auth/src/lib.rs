#![doc = include_str!("../README.md")]
//!
//! # Where to start
//!
//! - [`load_cloud`] with [`LoadOptions`] (from the process with [`LoadOptions::from_process`], or
//!   from a map in tests) gives a [`CloudConfig`]; [`Error`] names the file, line and fix when it
//!   cannot.
//! - [`AuthProvider`] turns a [`CloudConfig`] into a [`RequestAuthorizer`]: tokens or AK/SK
//!   signatures, the project id ([`AuthProvider::project_id`]) and catalog endpoints
//!   ([`AuthProvider::endpoint`]).
//! - [`StaticToken`] is a [`RequestAuthorizer`] for a token obtained elsewhere.
//! - [`sign::sign`] signs a request without any I/O ([`SignatureForm`] picks the form).
//!
//! The precedence rules (which file, which variable wins) are described in the repository's
//! [docs/authentication.md](https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/authentication.md).
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
