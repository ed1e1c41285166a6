//! The production [`Store`]: `trace_graph::GraphWriter` behind the sink's seam.
//!
//! The writer is created lazily by [`Store::prepare`], which the startup loop
//! calls until Neo4j answers, so a database that starts after the sink is not
//! an error. The adapter only translates: trace-graph's error enum becomes the
//! [`StoreError`] classes the sink answers by, and row errors become reasons.

use crate::config::Neo4jSettings;
use crate::store::{BatchReport, Store, StoreError, TraceRecord};
use async_trait::async_trait;
use std::time::Duration;
use tokio::sync::OnceCell;
use trace_graph::{GraphConfig, GraphWriter, WarmUp};

/// Writes to Neo4j through trace-graph.
#[derive(Debug)]
pub struct GraphStore {
    config: GraphConfig,
    warmup: Duration,
    writer: OnceCell<GraphWriter>,
}

impl GraphStore {
    /// A store for these settings; nothing connects until [`Store::prepare`].
    /// `batch_max_events` bounds the rows per transaction.
    pub fn new(settings: &Neo4jSettings, batch_max_events: usize) -> Self {
        let mut config = GraphConfig::new(
            settings.uri.clone(),
            settings.user.clone(),
            settings.password.expose().to_string(),
        );
        config.database = settings.database.clone();
        config.ca_cert = settings.ca_cert.clone();
        config.max_retries = settings.max_retries;
        config.connect_timeout = settings.connect_timeout;
        config.batch_size = batch_max_events.clamp(1, 50_000);
        GraphStore {
            config,
            warmup: settings.warmup,
            writer: OnceCell::new(),
        }
    }

    fn writer(&self) -> Result<&GraphWriter, StoreError> {
        self.writer
            .get()
            .ok_or_else(|| StoreError::Unreachable("not connected to Neo4j yet".into()))
    }
}

/// Sorts trace-graph errors into the classes the sink reacts to.
fn classify(error: trace_graph::Error) -> StoreError {
    match error {
        e @ trace_graph::Error::Auth { .. } => StoreError::Auth(e.to_string()),
        e @ trace_graph::Error::Config { .. } => StoreError::Permanent(e.to_string()),
        e @ trace_graph::Error::Rejected { .. } => StoreError::Refused(e.to_string()),
        e if e.is_transient() => StoreError::Transient(e.to_string()),
        e => StoreError::Permanent(e.to_string()),
    }
}

#[async_trait]
impl Store for GraphStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        let writer = self
            .writer
            .get_or_try_init(|| GraphWriter::connect(self.config.clone()))
            .await
            .map_err(classify)?;
        writer.ensure_schema().await.map_err(classify)
    }

    async fn warm_up(&self) -> Result<(), StoreError> {
        if self.warmup.is_zero() {
            return Ok(());
        }
        // One statement, one plan, whatever the batch size: a lone event, a typical
        // batch under live load, and up to 100 rows (larger rounds would make each
        // round of a cold server so long that few fit in the budget).
        let mut plan = WarmUp::for_batch_size(self.config.batch_size.min(100));
        plan.budget = self.warmup;
        let report = self.writer()?.warm_up(&plan).await.map_err(classify)?;
        tracing::info!(
            transactions = report.transactions,
            traces = report.traces,
            elapsed_ms = report.elapsed.as_millis() as u64,
            first_round_us_per_trace = report.first_per_trace.as_micros() as u64,
            last_round_us_per_trace = report.last_per_trace.as_micros() as u64,
            stopped_when_flat = report.flat,
            "Neo4j warmed up (rolled-back transactions, nothing written)"
        );
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.writer()?.ping().await.map_err(classify)
    }

    async fn write(&self, batch: &[TraceRecord]) -> Result<BatchReport, StoreError> {
        let report = self.writer()?.write(batch).await.map_err(classify)?;
        Ok(BatchReport {
            rejected: report
                .rejected
                .into_iter()
                .map(|(i, e)| (i, e.to_string()))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_class() {
        let auth = trace_graph::Error::Auth {
            user: "neo4j".into(),
            message: "no".into(),
        };
        assert!(matches!(classify(auth), StoreError::Auth(m) if m.contains("NEO4J_PASSWORD")));
        let t = trace_graph::Error::Transient {
            attempts: 3,
            message: "deadlock".into(),
        };
        assert!(classify(t).is_retryable());
        let r = trace_graph::Error::Rejected {
            code: "Neo.ClientError.X".into(),
            message: "m".into(),
        };
        assert!(matches!(classify(r), StoreError::Refused(_)));
        let c = trace_graph::Error::Config {
            setting: "database",
            problem: "no such database".into(),
        };
        assert!(matches!(classify(c), StoreError::Permanent(_)));
    }

    #[tokio::test]
    async fn not_connected_yet_is_unreachable() {
        let settings = Neo4jSettings {
            uri: "bolt://127.0.0.1:1".into(),
            user: "neo4j".into(),
            password: crate::secret::Secret::new("pw".into()),
            database: None,
            ca_cert: None,
            max_retries: 0,
            connect_timeout: std::time::Duration::from_secs(1),
            warmup: std::time::Duration::ZERO,
        };
        let store = GraphStore::new(&settings, 100);
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unreachable(_))
        ));
        assert!(matches!(
            store.write(&[]).await,
            Err(StoreError::Unreachable(_))
        ));
    }
}
