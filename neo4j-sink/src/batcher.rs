//! Group commit: many requests, one transaction, every answer after commit.
//!
//! A request hands its events to [`Batcher::submit`] and gets one ticket per
//! event; it answers its sender only when every ticket has resolved, so a 202
//! always means "committed". A single dispatcher task forms batches from the
//! queue (flushed at `BATCH_MAX_EVENTS` or after `BATCH_MAX_DELAY_MS`) and
//! runs up to `WRITE_CONCURRENCY` writes at once.
//!
//! Adaptive size: while another batch is being written, the next one may wait
//! up to `BATCH_BUSY_DELAY_MS` to fill, and goes as soon as no other write is
//! in flight. A lone event (nothing being written) is committed at once; under
//! a deep queue (a catch-up, a backfill) transactions grow instead of
//! multiplying, which costs Neo4j less per event.
//!
//! The queue is bounded by counting events that wait for their commit; a
//! request whose events do not fit is refused whole (429), never half queued.
//! Events with the same [`EventKey`] in flight at the same time are written
//! once: a later arrival waits on the write already queued.
//!
//! If Neo4j refuses a batch for a reason retrying will not fix, the batch is
//! split in halves and the halves are written again, down to single events,
//! so one bad event from one request never fails the events of the other
//! requests in its batch.

use crate::config::BatchSettings;
use crate::event::{EventKey, SinkEvent};
use crate::metrics::{outcome, Metrics};
use crate::store::{Store, StoreError, TraceRecord};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Committed.
    Stored,
    /// Refused by the store for its data; never storable.
    Rejected(String),
    /// The write failed; nothing of this event is known to be stored.
    Failed(StoreError),
}

/// Why events could not be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// Not enough room: `needed` more events would exceed `capacity`.
    QueueFull {
        /// Events currently waiting.
        depth: usize,
        /// New queue entries the request needs.
        needed: usize,
        /// The bound (QUEUE_CAPACITY).
        capacity: usize,
    },
    /// The sink is shutting down.
    Closed,
}

/// The wait for one event's commit.
pub type Ticket = oneshot::Receiver<Outcome>;

struct Job {
    key: EventKey,
    record: TraceRecord,
}

struct State {
    pending: HashMap<EventKey, Vec<oneshot::Sender<Outcome>>>,
    depth: usize,
    tx: Option<mpsc::UnboundedSender<Job>>,
}

struct Inner {
    state: Mutex<State>,
    capacity: usize,
    metrics: Metrics,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the map half-updated in a
        // way that matters more than refusing service, so keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn finish(&self, keys: Vec<EventKey>, outcomes: Vec<Outcome>) {
        let mut st = self.lock();
        for (key, result) in keys.iter().zip(outcomes) {
            let label = match &result {
                Outcome::Stored => outcome::STORED,
                Outcome::Rejected(_) => outcome::REJECTED,
                Outcome::Failed(_) => outcome::FAILED,
            };
            self.metrics.count_events(label, 1);
            for waiter in st.pending.remove(key).unwrap_or_default() {
                // The request may have gone (client disconnected): nothing to tell.
                let _ = waiter.send(result.clone());
            }
        }
        st.depth = st.depth.saturating_sub(keys.len());
        self.metrics.queue_depth.set(st.depth as i64);
    }
}

/// The group-commit queue; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Batcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher")
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl Batcher {
    /// Starts the dispatcher; the handle finishes once [`Batcher::close`] was
    /// called and every queued event has been written and answered.
    pub fn start(
        store: Arc<dyn Store>,
        settings: BatchSettings,
        metrics: Metrics,
    ) -> (Batcher, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                pending: HashMap::new(),
                depth: 0,
                tx: Some(tx),
            }),
            capacity: settings.queue_capacity,
            metrics,
        });
        let task = tokio::spawn(dispatch(inner.clone(), rx, store, settings));
        (Batcher { inner }, task)
    }

    /// Queues the events, all or none, and returns one ticket per event in order.
    pub fn submit(&self, events: Vec<SinkEvent>) -> Result<Vec<Ticket>, SubmitError> {
        let mut st = self.inner.lock();
        let tx = match &st.tx {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => return Err(SubmitError::Closed),
        };
        let new: HashSet<&EventKey> = events
            .iter()
            .map(|e| &e.key)
            .filter(|k| !st.pending.contains_key(*k))
            .collect();
        if st.depth + new.len() > self.inner.capacity {
            return Err(SubmitError::QueueFull {
                depth: st.depth,
                needed: new.len(),
                capacity: self.inner.capacity,
            });
        }
        let mut tickets = Vec::with_capacity(events.len());
        let mut duplicates = 0;
        for event in events {
            let (sender, ticket) = oneshot::channel();
            tickets.push(ticket);
            if let Some(waiters) = st.pending.get_mut(&event.key) {
                waiters.push(sender);
                duplicates += 1;
                continue;
            }
            st.pending.insert(event.key.clone(), vec![sender]);
            st.depth += 1;
            if let Err(mpsc::error::SendError(job)) = tx.send(Job {
                key: event.key,
                record: event.record,
            }) {
                // The dispatcher is gone; the dropped sender resolves the ticket as failed.
                st.pending.remove(&job.key);
                st.depth -= 1;
            }
        }
        self.inner
            .metrics
            .count_events(outcome::DUPLICATE, duplicates);
        self.inner.metrics.queue_depth.set(st.depth as i64);
        Ok(tickets)
    }

    /// Stops accepting events; already queued events are still written.
    pub fn close(&self) {
        self.inner.lock().tx = None;
    }

    /// Events accepted and not yet committed.
    pub fn depth(&self) -> usize {
        self.inner.lock().depth
    }
}

async fn dispatch(
    inner: Arc<Inner>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    store: Arc<dyn Store>,
    settings: BatchSettings,
) {
    let slots = Arc::new(Semaphore::new(settings.write_concurrency));
    // Writes running now; a batch lingers (up to `busy_delay`) only while this is above 0.
    let (running_tx, mut running) = watch::channel(0usize);
    let running_tx = Arc::new(running_tx);
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let Some(first) = rx.recv().await else { break };
        let mut batch = vec![first];
        let started = tokio::time::Instant::now();
        let deadline = started + settings.max_delay;
        let busy_deadline = started + settings.busy_delay.max(settings.max_delay);
        while batch.len() < settings.max_events {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    let busy = !settings.busy_delay.is_zero() && *running.borrow() > 0;
                    let until = if busy { busy_deadline } else { deadline };
                    tokio::select! {
                        biased;
                        job = rx.recv() => match job {
                            Some(job) => batch.push(job),
                            None => break,
                        },
                        () = tokio::time::sleep_until(until) => break,
                        // The other writes finished: Neo4j would idle, so stop lingering.
                        _ = running.wait_for(|n| *n == 0), if busy => {}
                    }
                }
            }
        }
        let (inner, store, timeout) = (inner.clone(), store.clone(), settings.write_timeout);
        running_tx.send_modify(|n| *n += 1);
        let running_tx = running_tx.clone();
        tokio::spawn(async move {
            let (keys, records): (Vec<EventKey>, Vec<TraceRecord>) =
                batch.into_iter().map(|j| (j.key, j.record)).unzip();
            let outcomes = write_isolating(store.as_ref(), &records, timeout, &inner.metrics).await;
            inner.finish(keys, outcomes);
            running_tx.send_modify(|n| *n -= 1);
            drop(permit);
        });
    }
    // Wait until every write still running has answered its events.
    let _ = slots.acquire_many(settings.write_concurrency as u32).await;
    tracing::debug!("batcher drained");
}

type Outcomes<'a> = Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'a>>;

/// Writes the records; when Neo4j refuses the batch, splits it to find the bad rows.
fn write_isolating<'a>(
    store: &'a dyn Store,
    records: &'a [TraceRecord],
    timeout: Duration,
    metrics: &'a Metrics,
) -> Outcomes<'a> {
    let span = tracing::debug_span!("sink.batch", n_events = records.len());
    Box::pin(
        async move {
            let started = Instant::now();
            let result = match tokio::time::timeout(timeout, store.write(records)).await {
                Ok(Ok(report)) => Ok(report),
                Ok(Err(e)) => {
                    metrics.neo4j_errors.with_label_values(&[e.kind()]).inc();
                    Err(e)
                }
                Err(_) => {
                    metrics.neo4j_errors.with_label_values(&["timeout"]).inc();
                    Err(StoreError::Transient(format!(
                        "the write did not finish within {timeout:?} (WRITE_TIMEOUT_SECS)"
                    )))
                }
            };
            metrics.batch_size.observe(records.len() as f64);
            metrics.write_duration.observe(started.elapsed().as_secs_f64());
            match result {
                Ok(report) => {
                    let mut outcomes = vec![Outcome::Stored; records.len()];
                    for (index, reason) in report.rejected {
                        if let Some(slot) = outcomes.get_mut(index) {
                            *slot = Outcome::Rejected(reason);
                        }
                    }
                    outcomes
                }
                Err(StoreError::Refused(reason)) if records.len() > 1 => {
                    tracing::debug!(error = %reason, "batch refused, splitting it to isolate the cause");
                    let (left, right) = records.split_at(records.len() / 2);
                    let mut outcomes = write_isolating(store, left, timeout, metrics).await;
                    outcomes.extend(write_isolating(store, right, timeout, metrics).await);
                    outcomes
                }
                Err(e) => {
                    tracing::warn!(error = %e, n_events = records.len(), "batch write failed");
                    vec![Outcome::Failed(e); records.len()]
                }
            }
        }
        .instrument(span),
    )
}

#[cfg(test)]
#[path = "batcher_tests.rs"]
mod tests;
