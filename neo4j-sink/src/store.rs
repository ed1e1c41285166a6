//! The seam between the HTTP layer and the graph.
//!
//! The request path (decode, group commit, status codes) only needs three
//! things from storage: get ready (connect and create the schema), say whether
//! the database is reachable, and write a batch. Putting those behind the small
//! [`Store`] trait keeps the HTTP layer testable without a database in unit
//! tests; the production implementation is [`crate::graph_store::GraphStore`],
//! a thin adapter over `trace_graph::GraphWriter`.

use async_trait::async_trait;
use std::fmt;

pub use trace_graph::{TraceContext, TraceRecord};

/// What a batch write did, row by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Rows the store refused for good because of their data (their index in
    /// the batch and why); every other row of the batch is committed.
    pub rejected: Vec<(usize, String)>,
}

/// Why a store operation failed, in the classes the sink reacts to differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The database could not be reached (connection refused, DNS, TLS, timeout).
    Unreachable(String),
    /// The database refused the credentials.
    Auth(String),
    /// A failure that may pass by itself (deadlock, leader switch, overload).
    Transient(String),
    /// Neo4j refused a statement of the batch for a reason retrying will not
    /// fix, possibly because of one row's data. The batcher splits such a
    /// batch to isolate the row; a single event that still fails gets 500
    /// (not 400: the cause is not known to be the event).
    Refused(String),
    /// A failure that retrying will not fix and that is not the data's fault
    /// (a schema or query error, a missing database, a permission problem).
    Permanent(String),
}

impl StoreError {
    /// The `kind` label used in `neo4j_sink_neo4j_errors_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Unreachable(_) => "unreachable",
            StoreError::Auth(_) => "auth",
            StoreError::Transient(_) => "transient",
            StoreError::Refused(_) => "refused",
            StoreError::Permanent(_) => "permanent",
        }
    }

    /// True when the same write may succeed later without any change: the
    /// sender should retry (503).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unreachable(_) | StoreError::Transient(_))
    }

    /// The message without the class.
    pub fn message(&self) -> &str {
        match self {
            StoreError::Unreachable(m)
            | StoreError::Auth(m)
            | StoreError::Transient(m)
            | StoreError::Refused(m)
            | StoreError::Permanent(m) => m,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unreachable(m) => write!(f, "Neo4j is unreachable: {m}"),
            StoreError::Auth(m) => write!(f, "Neo4j refused the credentials: {m}"),
            StoreError::Transient(m) => write!(f, "transient Neo4j error: {m}"),
            StoreError::Refused(m) => write!(f, "Neo4j refused the batch: {m}"),
            StoreError::Permanent(m) => write!(f, "Neo4j error: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Storage as the sink needs it. Implementations must be safe to call from
/// several tasks at once.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Connects (if not yet connected) and makes sure the schema exists.
    /// Called by the startup loop until it succeeds.
    async fn prepare(&self) -> Result<(), StoreError>;

    /// Warms a cold database before traffic without writing anything visible
    /// (called once, after the first successful [`Store::prepare`], before the
    /// sink reports ready). A failure only means a colder start.
    async fn warm_up(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Writes the batch idempotently (a trace id already stored is not
    /// duplicated). On `Ok`, every row not listed in
    /// [`BatchReport::rejected`] is committed and readable.
    async fn write(&self, batch: &[TraceRecord]) -> Result<BatchReport, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreachable_and_transient_are_retryable() {
        assert!(StoreError::Unreachable("x".into()).is_retryable());
        assert!(StoreError::Transient("x".into()).is_retryable());
        assert!(!StoreError::Auth("x".into()).is_retryable());
        assert!(!StoreError::Refused("x".into()).is_retryable());
        assert!(!StoreError::Permanent("x".into()).is_retryable());
        assert_eq!(StoreError::Auth("x".into()).kind(), "auth");
    }
}
