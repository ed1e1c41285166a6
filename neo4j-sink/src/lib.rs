//! neo4j-sink: a Knative CloudEvents sink that stores Cloud Trace Service
//! traces in Neo4j.
//!
//! The binary (`src/main.rs`) only parses settings, sets up logging and
//! signals, and calls into this library, which tests drive the same way:
//!
//! - [`config`] and [`validate`]: flags and environment variables, checked into [`Settings`];
//! - [`server`]: the router ([`app`]) and the status-code contract;
//! - [`decode`] and [`event`]: CloudEvents (binary, structured, batch) to traces;
//! - [`context`]: the graph context from extensions, or derived, or the placeholder;
//! - [`batcher`]: group commit (`trace_graph::GroupCommit` wired to the store and the metrics),
//!   answering each request after its commit;
//! - [`store`] and [`graph_store`]: the storage seam and its trace-graph implementation;
//! - [`readiness`], [`auth`], [`metrics`]: startup, OIDC sender identity, Prometheus;
//! - [`sink`]: start, serve and bounded shutdown;
//! - [`detect`]: `neo4j-sink detect`, detection rules run in a loop, findings sent as CloudEvents.
//!
//! docs/sink.md describes the HTTP contract, endpoints, metrics and settings.
#![deny(missing_docs)]

pub mod auth;
pub mod batcher;
pub mod config;
pub mod context;
pub mod decode;
pub mod detect;
pub mod event;
pub mod graph_store;
pub mod log_noise;
pub mod metrics;
pub mod problem;
pub mod readiness;
pub mod secret;
pub mod server;
pub mod sink;
pub mod store;
#[cfg(test)]
mod testing;
pub mod validate;

pub use config::{RawArgs, Settings};
pub use server::{app, AppState};
pub use sink::{Shutdown, Sink, StartError};
