//! The writer: the only part of the crate that talks to Neo4j.
//!
//! One batch is one explicit transaction running the one write statement of
//! the `cypher` module. A transient failure reruns the whole
//! transaction (neo4rs never retries explicit ones); a batch that is too
//! large for the server is split in halves until it fits, and a single
//! trace that still does not fit is rejected on its own.

use crate::batch::Batch;
use crate::config::GraphConfig;
use crate::cypher;
use crate::error::{Error, RowError};
use crate::mapping::map_trace;
use crate::model::{GraphRow, TraceRecord};
use crate::params::write_params;
use crate::retry::{classify, Class, Failure, RetryPolicy};
use crate::schema;
use futures::stream::{FuturesUnordered, StreamExt};
use neo4rs::{query, BoltType, ConfigBuilder, Graph};
use std::fmt;
use tracing::Instrument;

/// What one call to [`GraphWriter::write`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteReport {
    /// Traces committed to the graph (a trace given twice counts twice).
    pub written: usize,
    /// Traces that were not written, by their index in the input, with the reason.
    pub rejected: Vec<(usize, RowError)>,
    /// Transactions committed.
    pub transactions: usize,
    /// Transactions that were run again after a transient failure.
    pub retries: u32,
}

impl WriteReport {
    /// Adds what another part of the same call did.
    fn merge(&mut self, other: WriteReport) {
        self.written += other.written;
        self.rejected.extend(other.rejected);
        self.transactions += other.transactions;
        self.retries += other.retries;
    }
}

/// Writes traces to Neo4j; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct GraphWriter {
    pub(crate) graph: Graph,
    pub(crate) config: GraphConfig,
    pub(crate) policy: RetryPolicy,
    pub(crate) latency: Option<crate::latency::BoltLatency>,
}

impl fmt::Debug for GraphWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphWriter")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl GraphWriter {
    /// Validates the configuration, opens the connection pool and checks that
    /// the server answers (one `RETURN 1`, not retried), then, unless
    /// [`GraphConfig::check_bolt_latency`] is off, that large requests are not
    /// held by Nagle's algorithm (see [`crate::latency`]).
    ///
    /// Errors: [`Error::Config`] for a bad setting, [`Error::Auth`] for refused
    /// credentials, [`Error::Transient`] when the server cannot be reached.
    pub async fn connect(config: GraphConfig) -> Result<GraphWriter, Error> {
        config.validate()?;
        let mut builder = ConfigBuilder::default()
            .uri(config.uri.trim())
            .user(config.user.as_str())
            .password(config.password.expose())
            .max_connections(config.max_connections)
            .connection_timeout(config.connect_timeout)
            .fetch_size(1000);
        if let Some(db) = &config.database {
            builder = builder.db(db.trim());
        }
        if let Some(ca) = &config.ca_cert {
            // neo4rs calls the CA file a "client certificate"; it is the root the server's
            // certificate must chain to.
            builder = builder.with_client_certificate(ca);
        }
        let built = builder
            .build()
            .map_err(|e| to_error(&config, 1, classify(&e)))?;
        let graph = Graph::connect(built).map_err(|e| to_error(&config, 1, classify(&e)))?;
        let policy = RetryPolicy {
            max_retries: config.max_retries,
            initial: config.retry_initial_backoff,
            max: config.retry_max_backoff,
        };
        let mut writer = GraphWriter {
            graph,
            config,
            policy,
            latency: None,
        };
        writer.ping().await?;
        if writer.config.check_bolt_latency {
            writer.latency = crate::latency::measure(&writer.graph).await;
        }
        Ok(writer)
    }

    /// The settings this writer was created with.
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// Checks that the server answers a trivial query now (no retries), e.g.
    /// for a readiness probe.
    pub async fn ping(&self) -> Result<(), Error> {
        let result = async {
            let mut txn = self.graph.start_txn().await?;
            let mut rows = txn.execute(query("RETURN 1 AS ok")).await?;
            let row = rows.next(txn.handle()).await?;
            txn.commit().await?;
            Ok::<_, neo4rs::Error>(row)
        }
        .await;
        match result {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Error::Rejected {
                code: "driver".to_owned(),
                message: "RETURN 1 gave no row".to_owned(),
            }),
            Err(e) => Err(to_error(&self.config, 1, classify(&e))),
        }
    }

    /// Creates the constraints and indexes the model needs (idempotent), waits
    /// until they are online, and checks that every node key is unique-constrained.
    pub async fn ensure_schema(&self) -> Result<(), Error> {
        let statements = schema::CONSTRAINTS
            .iter()
            .chain(schema::INDEXES.iter())
            .map(|(_, s)| *s)
            .chain([schema::AWAIT_INDEXES]);
        for statement in statements {
            let outcome = self
                .policy
                .run(|_| self.run_single(statement), tokio::time::sleep)
                .await;
            match outcome {
                Ok(()) => {}
                Err((_, f)) if f.code == schema::EQUIVALENT_EXISTS => {}
                Err((attempts, f)) => return Err(to_error(&self.config, attempts, f)),
            }
        }
        let present = self
            .policy
            .run(|_| self.unique_constraints(), tokio::time::sleep)
            .await
            .map_err(|(n, f)| to_error(&self.config, n, f))?;
        let missing: Vec<String> = schema::KEYS
            .iter()
            .filter(|(l, p)| !present.iter().any(|(pl, pp)| pl == l && pp == p))
            .map(|(l, p)| format!("{l}.{p}"))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Rejected {
                code: "schema".to_owned(),
                message: format!(
                    "no uniqueness constraint on {} after ensure_schema; an existing index or \
                     duplicate data may block it (check SHOW INDEXES / SHOW CONSTRAINTS)",
                    missing.join(", ")
                ),
            });
        }
        Ok(())
    }

    async fn run_single(&self, statement: &str) -> Result<(), Failure> {
        let mut txn = self.graph.start_txn().await.map_err(|e| classify(&e))?;
        txn.run(query(statement)).await.map_err(|e| classify(&e))?;
        txn.commit().await.map_err(|e| classify(&e))
    }

    async fn unique_constraints(&self) -> Result<Vec<(String, String)>, Failure> {
        let fail = |e: neo4rs::Error| classify(&e);
        let mut txn = self.graph.start_txn().await.map_err(fail)?;
        let mut rows = txn
            .execute(query(schema::SHOW_UNIQUE))
            .await
            .map_err(fail)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next(txn.handle()).await.map_err(fail)? {
            if let (Ok(l), Ok(p)) = (row.get::<String>("label"), row.get::<String>("property")) {
                out.push((l, p));
            }
        }
        txn.commit().await.map_err(fail)?;
        Ok(out)
    }

    /// Maps and writes traces, `batch_size` per transaction, up to
    /// `write_concurrency` transactions at once.
    ///
    /// Traces that cannot be mapped (see [`RowError`]) are reported in
    /// [`WriteReport::rejected`] and the others are written. Writing is
    /// idempotent: the same traces again change nothing. On `Err`, other
    /// batches of this call may be committed; calling again with the same
    /// input is safe and completes the work.
    pub async fn write(&self, records: &[TraceRecord]) -> Result<WriteReport, Error> {
        let mut report = WriteReport::default();
        let mut rows = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            match map_trace(&r.trace, &r.context) {
                Ok(row) => rows.push((i, row)),
                Err(e) => report.rejected.push((i, e)),
            }
        }
        let span = tracing::debug_span!("graph.write", traces = records.len(), rows = rows.len());
        let outcome = self
            .write_chunks(rows.chunks(self.config.batch_size), &mut report)
            .instrument(span)
            .await;
        report.rejected.sort_by_key(|(i, _)| *i);
        outcome.map(|()| report)
    }

    /// Runs up to `write_concurrency` chunks at once. After a failure no new
    /// chunk starts; the ones in flight run to their end (a transaction is
    /// never abandoned half way) and the first error is returned.
    async fn write_chunks<'r>(
        &self,
        chunks: impl Iterator<Item = &'r [(usize, GraphRow)]>,
        report: &mut WriteReport,
    ) -> Result<(), Error> {
        let mut chunks = chunks.peekable();
        let mut in_flight = FuturesUnordered::new();
        let mut first_error = None;
        loop {
            while first_error.is_none() && in_flight.len() < self.config.write_concurrency.max(1) {
                let Some(chunk) = chunks.next() else { break };
                in_flight.push(self.write_chunk(chunk));
            }
            let Some((part, outcome)) = in_flight.next().await else {
                break;
            };
            report.merge(part);
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// One chunk: a transaction, split in halves while the server finds it
    /// too large. Returns what was done, even when it fails part way.
    async fn write_chunk(&self, chunk: &[(usize, GraphRow)]) -> (WriteReport, Result<(), Error>) {
        let mut report = WriteReport::default();
        let outcome = self.write_chunk_into(chunk, &mut report).await;
        (report, outcome)
    }

    async fn write_chunk_into(
        &self,
        chunk: &[(usize, GraphRow)],
        report: &mut WriteReport,
    ) -> Result<(), Error> {
        let retries = std::sync::atomic::AtomicU32::new(0);
        let outcome = write_splitting(chunk, report, |part| {
            let batch = Batch::build(part.iter().map(|(_, r)| r));
            let retries = &retries;
            async move {
                self.policy
                    .run(
                        |attempt| {
                            retries.fetch_add(
                                u32::from(attempt > 0),
                                std::sync::atomic::Ordering::Relaxed,
                            );
                            // Built for each attempt and moved into the query: the
                            // driver takes its parameters by value, and building them
                            // again on a (rare) retry is cheaper than a deep copy of
                            // the whole batch's parameters before every attempt.
                            self.run_batch(write_params(&batch))
                        },
                        tokio::time::sleep,
                    )
                    .await
            }
        })
        .await;
        report.retries += retries.into_inner();
        outcome.map_err(|(attempts, f)| to_error(&self.config, attempts, f))
    }

    /// Runs the write statement of a batch in one transaction and commits.
    async fn run_batch(&self, params: Vec<(&'static str, BoltType)>) -> Result<(), Failure> {
        let fail = |e: neo4rs::Error| classify(&e);
        let mut txn = self.graph.start_txn().await.map_err(fail)?;
        txn.run(query(cypher::WRITE).params(params))
            .await
            .map_err(fail)?;
        txn.commit().await.map_err(fail)
    }
}

/// Writes `chunk` with `run` (one transaction per call). A part the server
/// finds too large is split in halves; a single row that is still too large
/// is rejected on its own. Any other failure stops the chunk.
async fn write_splitting<'r, Run, Fut>(
    chunk: &'r [(usize, GraphRow)],
    report: &mut WriteReport,
    mut run: Run,
) -> Result<(), (u32, Failure)>
where
    Run: FnMut(&'r [(usize, GraphRow)]) -> Fut,
    Fut: std::future::Future<Output = Result<(), (u32, Failure)>>,
{
    let mut pending = vec![chunk];
    while let Some(part) = pending.pop() {
        match run(part).await {
            Ok(()) => {
                report.written += part.len();
                report.transactions += 1;
            }
            Err((_, f)) if f.class == Class::TooLarge && part.len() > 1 => {
                tracing::debug!(rows = part.len(), error = %f.message, "batch too large, splitting");
                let (left, right) = part.split_at(part.len() / 2);
                pending.push(right);
                pending.push(left);
            }
            Err((_, f)) if f.class == Class::TooLarge => {
                let (index, row) = &part[0];
                report.rejected.push((
                    *index,
                    RowError::TooLarge {
                        trace_id: row.action.trace_id.clone(),
                        message: f.message,
                    },
                ));
            }
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// Turns a classified failure into the crate error.
pub(crate) fn to_error(config: &GraphConfig, attempts: u32, f: Failure) -> Error {
    match f.class {
        Class::Retry => Error::Transient {
            attempts,
            message: format!("{} ({})", f.message, f.code),
        },
        Class::Auth => Error::Auth {
            user: config.user.clone(),
            message: f.message,
        },
        Class::Config => Error::Config {
            setting: if f.code.contains("Database") {
                "database"
            } else {
                "uri"
            },
            problem: format!(
                "{} (uri {}, database {})",
                f.message,
                config.uri,
                config.database.as_deref().unwrap_or("<server default>")
            ),
        },
        Class::TooLarge | Class::Fatal => Error::Rejected {
            code: f.code,
            message: f.message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TraceContext;
    use cts_client::Trace;
    use std::cell::RefCell;

    fn rows(n: usize) -> Vec<(usize, GraphRow)> {
        let ctx = TraceContext::new("p", "eu-de");
        (0..n)
            .map(|i| {
                let t: Trace = serde_json::from_value(
                    serde_json::json!({"trace_id": format!("t{i}"), "time": 1}),
                )
                .expect("trace");
                (i, map_trace(&t, &ctx).expect("maps"))
            })
            .collect()
    }

    fn failure(class: Class) -> (u32, Failure) {
        (
            1,
            Failure {
                class,
                code: "Neo.TransientError.General.MemoryPoolOutOfMemoryError".into(),
                message: "too big".into(),
            },
        )
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn too_large_batches_are_halved_and_a_poison_row_is_rejected_alone() {
        let input = rows(10);
        let sizes = RefCell::new(Vec::new());
        let mut report = WriteReport::default();
        let result = block_on(write_splitting(&input, &mut report, |part| {
            sizes.borrow_mut().push(part.len());
            // More than 3 rows is too much; row 7 is too large even alone.
            let too_large = part.len() > 3 || part.iter().any(|(i, _)| *i == 7);
            async move {
                if too_large {
                    Err(failure(Class::TooLarge))
                } else {
                    Ok(())
                }
            }
        }));
        assert!(result.is_ok());
        assert_eq!(report.written, 9);
        assert_eq!(report.rejected.len(), 1);
        assert_eq!(report.rejected[0].0, 7);
        assert!(
            matches!(&report.rejected[0].1, RowError::TooLarge { trace_id, .. } if trace_id == "t7")
        );
        assert_eq!(sizes.borrow()[0], 10, "first the whole chunk");
        assert!(sizes.borrow().iter().all(|s| *s >= 1));
    }

    #[test]
    fn other_failures_stop_the_chunk() {
        let input = rows(4);
        let mut report = WriteReport::default();
        let result = block_on(write_splitting(&input, &mut report, |_| async {
            Err(failure(Class::Retry))
        }));
        assert_eq!(result.map_err(|(_, f)| f.class), Err(Class::Retry));
        assert_eq!(report.written, 0);
        assert!(report.rejected.is_empty());
    }
}
