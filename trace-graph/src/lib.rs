#![doc = include_str!("../README.md")]
//!
//! # Where to start
//!
//! - [`GraphConfig`] and [`GraphWriter::connect`], then [`GraphWriter::ensure_schema`] and
//!   [`GraphWriter::write`] with [`TraceRecord`]s (a [`cts_client::Trace`] plus its [`TraceContext`]).
//! - [`map_trace`] is the pure mapping to a [`GraphRow`], for snapshot tests or other stores.
//! - [`Error::is_transient`] separates "try again later" (Neo4j down or busy) from permanent problems;
//!   per-trace problems come back in [`WriteReport::rejected`] as [`RowError`]s.
//! - [`indexed`] explains how values too long for an index entry are stored.
//! - [`playbook`] holds the investigation questions.
//! - [`GroupCommit`] batches records submitted by many concurrent callers into few transactions and
//!   answers each caller after its own record is committed.
#![deny(missing_docs)]

mod batch;
pub mod config;
mod cypher;
pub mod detect;
pub mod error;
pub mod group_commit;
pub mod indexed;
mod key;
pub mod latency;
pub mod mapping;
pub mod model;
mod params;
pub mod playbook;
mod retention;
mod retry;
pub mod schema;
pub mod warmup;
pub mod writer;

pub use config::{GraphConfig, Secret};
pub use error::{Error, RowError};
pub use group_commit::{GroupCommit, GroupCommitSettings};
pub use indexed::index_form;
pub use latency::BoltLatency;
pub use mapping::map_trace;
pub use model::{GraphRow, TraceContext, TraceRecord};
pub use retention::RetentionReport;
pub use warmup::{WarmUp, WarmUpReport};
pub use writer::{GraphWriter, WriteReport};
