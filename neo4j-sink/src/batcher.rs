//! Group commit: many requests, one transaction, every answer after commit.
//!
//! The mechanism is [`trace_graph::GroupCommit`] (batches fill while a write
//! is in flight, adaptive size, a bounded queue refusing whole requests,
//! in-flight de-duplication by [`EventKey`], splitting a refused batch down to
//! the bad event); this module only wires it to the sink: the [`Store`] seam,
//! the [`BatchSettings`] (`BATCH_MAX_EVENTS`, `BATCH_MAX_DELAY_MS`,
//! `BATCH_BUSY_DELAY_MS`, `WRITE_CONCURRENCY`, `QUEUE_CAPACITY`,
//! `WRITE_TIMEOUT_SECS`) and the Prometheus [`Metrics`].
//!
//! A request hands its events to [`Batcher::submit`] and gets one ticket per
//! event; it answers its sender only when every ticket has resolved, so a 202
//! always means "committed". A request whose events do not fit in the queue is
//! refused whole (429), never half queued.

use crate::config::BatchSettings;
use crate::event::{EventKey, SinkEvent};
use crate::metrics::{outcome, Metrics};
use crate::store::{Store, StoreError, TraceRecord};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use trace_graph::group_commit::{self, BatchWrite, GroupCommit, GroupCommitSettings, Observer};

/// What became of one event.
pub type Outcome = group_commit::Outcome<StoreError>;

/// Why events could not be queued.
pub use trace_graph::group_commit::SubmitError;

/// The wait for one event's commit.
pub type Ticket = group_commit::Ticket<StoreError>;

/// The sink's [`Store`] as group-commit storage.
struct StoreWriter(Arc<dyn Store>);

impl BatchWrite for StoreWriter {
    type Record = TraceRecord;
    type Error = StoreError;

    async fn write_batch(&self, batch: &[TraceRecord]) -> Result<Vec<(usize, String)>, StoreError> {
        Ok(self.0.write(batch).await?.rejected)
    }

    fn should_split(&self, error: &StoreError) -> bool {
        matches!(error, StoreError::Refused(_))
    }

    fn timed_out(&self, limit: Duration) -> StoreError {
        StoreError::Transient(format!(
            "the write did not finish within {limit:?} (WRITE_TIMEOUT_SECS)"
        ))
    }
}

/// Feeds the sink's Prometheus metrics from the group commit.
struct MetricsObserver(Metrics);

impl Observer<StoreError> for MetricsObserver {
    fn answered(&self, result: &Outcome) {
        let label = match result {
            Outcome::Stored => outcome::STORED,
            Outcome::Rejected(_) => outcome::REJECTED,
            Outcome::Failed(_) => outcome::FAILED,
        };
        self.0.count_events(label, 1);
    }

    fn coalesced(&self, duplicates: usize) {
        self.0.count_events(outcome::DUPLICATE, duplicates);
    }

    fn queue_depth(&self, depth: usize) {
        self.0.queue_depth.set(depth as i64);
    }

    fn write_failed(&self, error: &StoreError) {
        self.0.neo4j_errors.with_label_values(&[error.kind()]).inc();
    }

    fn batch_failed(&self, error: &StoreError, records: usize) {
        tracing::warn!(error = %error, n_events = records, "batch write failed");
    }

    fn write_timed_out(&self, _limit: Duration) {
        self.0.neo4j_errors.with_label_values(&["timeout"]).inc();
    }

    fn batch_written(&self, records: usize, elapsed: Duration) {
        self.0.batch_size.observe(records as f64);
        self.0.write_duration.observe(elapsed.as_secs_f64());
    }
}

/// The group-commit queue; cheap to clone.
#[derive(Clone, Debug)]
pub struct Batcher {
    inner: GroupCommit<StoreWriter, EventKey, MetricsObserver>,
}

impl Batcher {
    /// Starts the dispatcher; the handle finishes once [`Batcher::close`] was
    /// called and every queued event has been written and answered. Fails
    /// only for settings outside the bounds trace-graph documents (the
    /// sink's own validation keeps them inside).
    pub fn start(
        store: Arc<dyn Store>,
        settings: BatchSettings,
        metrics: Metrics,
    ) -> Result<(Batcher, JoinHandle<()>), trace_graph::Error> {
        let settings = GroupCommitSettings {
            max_events: settings.max_events,
            max_delay: settings.max_delay,
            busy_delay: settings.busy_delay,
            write_concurrency: settings.write_concurrency,
            queue_capacity: settings.queue_capacity,
            write_timeout: settings.write_timeout,
        };
        let (inner, task) =
            GroupCommit::start(StoreWriter(store), settings, MetricsObserver(metrics))?;
        Ok((Batcher { inner }, task))
    }

    /// Queues the events, all or none, and returns one ticket per event in order.
    pub fn submit(&self, events: Vec<SinkEvent>) -> Result<Vec<Ticket>, SubmitError> {
        self.inner
            .submit(events.into_iter().map(|e| (e.key, e.record)).collect())
    }

    /// Stops accepting events; already queued events are still written.
    pub fn close(&self) {
        self.inner.close();
    }

    /// Events accepted and not yet committed.
    pub fn depth(&self) -> usize {
        self.inner.depth()
    }
}

#[cfg(test)]
#[path = "batcher_tests.rs"]
mod tests;
