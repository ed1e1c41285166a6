//! A local stand-in for OTC IAM and the Cloud Trace Service (CTS), for
//! tests, demos and benchmarks of the cloudtrace exporter.
//!
//! It follows `cts-api.md` as a second, independent reading of the spec: its
//! JSON is written from the spec (not from `cts-client`'s types) and it
//! checks AK/SK signatures with its own canonicalization. It serves
//!
//! - IAM: `POST /v3/auth/tokens`, `GET /v3/auth/catalog`, `GET /v3/projects`;
//! - CTS: trace lists v1.0, v2.0, v3 and trackers v1.0 and v3;
//! - `GET /_emulator/truth?project_id=...`: the ids of all visible traces.
//!
//! Traces come from a deterministic [`generator`]: a history prefilled at
//! start, a live stream, and an ingestion delay that makes late arrivals
//! happen. Faults (429, 500, slow answers) can be injected.
//!
//! ```
//! use cts_emulator::{AuthKind, Emulator, EmulatorConfig};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cts_emulator::Error> {
//! let cfg = EmulatorConfig { history_count: 50, ..EmulatorConfig::default() };
//! let emu = Emulator::start(cfg, "127.0.0.1:0".parse().expect("address")).await?;
//! let project = &emu.projects()[0];
//! assert_eq!(emu.visible_trace_ids(&project.id).len(), 50);
//! assert!(emu.clouds_yaml(AuthKind::Password).contains("eu-de_demo"));
//! emu.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod aksk;
pub mod archive;
mod clouds;
mod config;
mod emulator;
mod error;
mod faults;
mod feed;
pub mod generator;
mod http;
mod ids;
mod render;
mod state;
mod store;

pub use archive::{ArchiveLayout, ArchiveOptions, ArchiveSummary};
pub use clouds::AuthKind;
pub use config::{Credentials, EmulatorConfig, Faults, Secret, Shape, V2StatusField};
pub use emulator::Emulator;
pub use error::Error;
pub use ids::{region_of, DomainInfo, ProjectInfo};
