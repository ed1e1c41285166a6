//! Maps Cloud Trace Service (CTS) traces to an audit graph in Neo4j and
//! writes them in idempotent, batched transactions.
//!
//! The crate has two halves, kept apart on purpose:
//!
//! - **Mapping** ([`map_trace`]) is a pure function from a
//!   [`cts_client::Trace`] and its [`TraceContext`] (project, region, domain)
//!   to a [`GraphRow`]: one `Action` per trace, `PERFORMED_BY` the user who
//!   acted, `APPLIED_ON` a `Resource` that is `MEMBER_OF` a `Tenant`
//!   `LOCATED_AT` a `Region`, `WITH_STATUS` a `Status`, plus the source IP,
//!   the service, the user's domain and the real user behind an agency.
//!   `docs/graph-model.md` describes every node, key and property and why.
//! - **Writing** ([`GraphWriter`]) owns Cypher, schema, batching and retries.
//!   Each batch is one transaction running one `UNWIND` statement: shared
//!   nodes first (deduplicated in Rust), then one row per trace with the
//!   `Action` and all its relationships; every list is sorted by key so
//!   concurrent writers lock in one order. `MERGE` matches on node
//!   keys only and `SET` adds the rest, so writing the same traces again
//!   changes nothing. Transient failures (deadlocks, `Neo.TransientError.*`,
//!   dropped connections) rerun the whole transaction with jittered backoff;
//!   a batch too large for the server is split in halves. Trace values only
//!   ever travel as query parameters, never inside Cypher text.
//! - **Long values** are never refused: an indexed value longer than a Neo4j
//!   index entry may hold is stored in full in `<property>Full` and indexed
//!   in a shortened, hashed form ([`indexed`]).
//!
//! # Example
//!
//! ```no_run
//! use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = GraphConfig::new("bolt://localhost:7687", "neo4j", "secret");
//! config.batch_size = 2000;
//! let writer = GraphWriter::connect(config).await?;
//! writer.ensure_schema().await?;
//!
//! let trace: cts_client::Trace = serde_json::from_str(
//!     r#"{"trace_id": "e001ccb9-bc09-11e6-b00b-4b2a61338db6", "time": 1472148708232,
//!         "trace_name": "deleteEip", "trace_rating": "normal", "trace_type": "ConsoleAction",
//!         "user": {"name": "alice", "domain": {"id": "ded649d814464428ba89d04d7955c93e"}},
//!         "service_type": "VPC", "resource_type": "eip", "resource_id": "d502809d",
//!         "source_ip": "198.51.100.23"}"#,
//! )?;
//! let context = TraceContext::new("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "eu-de");
//! let report = writer.write(&[TraceRecord::new(trace, context)]).await?;
//! assert_eq!(report.written, 1);
//! for (index, why) in &report.rejected {
//!     eprintln!("trace #{index} not written: {why}");
//! }
//!
//! // Retention: drop actions older than 90 days, 10 000 per transaction.
//! writer.delete_older_than(90, 10_000).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! [`Error::is_transient`] separates "try again later" (Neo4j down or busy)
//! from permanent problems (bad settings, refused credentials, a statement
//! the server rejects). Per-trace problems are not errors of the call: they
//! come back in [`WriteReport::rejected`] as [`RowError`]s while the rest of
//! the batch is written.
#![deny(missing_docs)]

mod batch;
pub mod config;
mod cypher;
pub mod error;
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
pub use indexed::index_form;
pub use latency::BoltLatency;
pub use mapping::map_trace;
pub use model::{GraphRow, TraceContext, TraceRecord};
pub use retention::RetentionReport;
pub use warmup::{WarmUp, WarmUpReport};
pub use writer::{GraphWriter, WriteReport};
