//! Retention: deleting old actions in bounded chunks, then every node that
//! no longer supports any action.
//!
//! In this model every node except `Action` exists only because something
//! points at it (a `User` because actions were `PERFORMED_BY` it, a `Tenant`
//! because resources are `MEMBER_OF` it, a `Region` because tenants are
//! `LOCATED_AT` it). So after deleting a chunk of actions, the nodes they
//! pointed to are deleted if nothing points at them any more, and so on up
//! the chain. Orphans are deleted with plain `DELETE` after removing their
//! outgoing relationships only: if a concurrent writer has just linked a new
//! action to one of them, the delete fails and the chunk is retried, instead
//! of silently cutting the new link.

use crate::error::Error;
use crate::retry::{classify, Class, Failure};
use crate::writer::{to_error, GraphWriter};
use neo4rs::query;
use std::time::{SystemTime, UNIX_EPOCH};

/// What one retention run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetentionReport {
    /// `Action` nodes deleted.
    pub actions_deleted: u64,
    /// Other nodes deleted because no action needed them any more.
    pub nodes_deleted: u64,
    /// Transactions committed (one per chunk).
    pub chunks: u64,
}

/// Deletes up to `$chunk` actions older than `$cutoff` and returns the
/// element ids of the nodes they pointed to.
const DELETE_ACTIONS: &str = "MATCH (a:Action) WHERE a.time < datetime({epochMillis: $cutoff}) \
     WITH a LIMIT $chunk \
     OPTIONAL MATCH (a)-->(n) \
     WITH collect(DISTINCT a) AS actions, collect(DISTINCT elementId(n)) AS touched \
     FOREACH (x IN actions | DETACH DELETE x) \
     RETURN size(actions) AS deleted, touched";

/// Deletes the given nodes that nothing points at any more and returns the
/// nodes they pointed to (the next candidates).
const DELETE_ORPHANS: &str = "UNWIND $ids AS id \
     MATCH (n) WHERE elementId(n) = id AND NOT n:Action AND NOT EXISTS { (n)<--() } \
     OPTIONAL MATCH (n)-[r]->(m) \
     WITH n, collect(r) AS out, collect(DISTINCT elementId(m)) AS next \
     FOREACH (r IN out | DELETE r) \
     DELETE n \
     RETURN next";

/// Longest chain of "points at" below an action: Resource → Tenant → Region.
const MAX_DEPTH: usize = 4;

impl GraphWriter {
    /// Deletes actions whose `time` is more than `days` days before now, in
    /// transactions of at most `chunk` actions, and the nodes left without
    /// any action (see the module documentation).
    pub async fn delete_older_than(
        &self,
        days: u32,
        chunk: usize,
    ) -> Result<RetentionReport, Error> {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        self.delete_before(now_ms - i64::from(days) * 86_400_000, chunk)
            .await
    }

    /// Like [`GraphWriter::delete_older_than`] with an explicit cutoff
    /// (epoch milliseconds): deletes actions with `time` before it.
    pub async fn delete_before(
        &self,
        cutoff_ms: i64,
        chunk: usize,
    ) -> Result<RetentionReport, Error> {
        if chunk == 0 || chunk > 100_000 {
            return Err(Error::Config {
                setting: "chunk",
                problem: format!("retention chunk must be 1..=100000 (e.g. 10000), got {chunk}"),
            });
        }
        let mut report = RetentionReport::default();
        loop {
            let outcome = self
                .policy
                .run(|_| self.delete_chunk(cutoff_ms, chunk), tokio::time::sleep)
                .await
                .map_err(|(n, f)| to_error(&self.config, n, f))?;
            let (actions, nodes) = outcome;
            if actions == 0 {
                return Ok(report);
            }
            report.actions_deleted += actions;
            report.nodes_deleted += nodes;
            report.chunks += 1;
            tracing::debug!(actions, nodes, "retention chunk committed");
        }
    }

    async fn delete_chunk(&self, cutoff_ms: i64, chunk: usize) -> Result<(u64, u64), Failure> {
        let fail = |e: neo4rs::Error| {
            let mut f = classify(&e);
            // A node we were deleting gained a relationship from a concurrent write.
            if f.code
                .starts_with("Neo.ClientError.Schema.ConstraintValidationFailed")
            {
                f.class = Class::Retry;
            }
            f
        };
        let mut txn = self.graph.start_txn().await.map_err(fail)?;
        let mut rows = txn
            .execute(
                query(DELETE_ACTIONS)
                    .param("cutoff", cutoff_ms)
                    .param("chunk", chunk as i64),
            )
            .await
            .map_err(fail)?;
        let (deleted, mut ids) = match rows.next(txn.handle()).await.map_err(fail)? {
            Some(row) => (
                row.get::<i64>("deleted").unwrap_or(0),
                row.get::<Vec<String>>("touched").unwrap_or_default(),
            ),
            None => (0, Vec::new()),
        };
        let mut nodes = 0u64;
        for _ in 0..MAX_DEPTH {
            if ids.is_empty() {
                break;
            }
            let mut rows = txn
                .execute(query(DELETE_ORPHANS).param("ids", ids.clone()))
                .await
                .map_err(fail)?;
            let mut next = Vec::new();
            while let Some(row) = rows.next(txn.handle()).await.map_err(fail)? {
                nodes += 1;
                next.extend(row.get::<Vec<String>>("next").unwrap_or_default());
            }
            next.sort_unstable();
            next.dedup();
            ids = next;
        }
        txn.commit().await.map_err(fail)?;
        Ok((deleted.max(0) as u64, nodes))
    }
}
