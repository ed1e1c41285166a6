//! Group commit: many callers, one transaction, every answer after commit.
//!
//! A program that receives traces one at a time from many concurrent callers
//! (an HTTP receiver, a queue consumer) and must answer each caller only once
//! its trace is durable pays one Neo4j transaction per trace if it calls
//! [`GraphWriter::write`](crate::GraphWriter::write) per caller. [`GroupCommit`]
//! collects the callers' records into batches instead and answers each caller
//! after the batch holding *its* record has committed:
//!
//! - [`GroupCommit::submit`] queues records (all or none) and returns one
//!   [`Ticket`] per record, which resolves to an [`Outcome`] after the write.
//! - One dispatcher task forms batches from the queue, flushed at
//!   [`GroupCommitSettings::max_events`] or after
//!   [`GroupCommitSettings::max_delay`], and runs up to
//!   [`GroupCommitSettings::write_concurrency`] writes at once.
//! - Adaptive size: while another batch is being written, the next one may
//!   wait up to [`GroupCommitSettings::busy_delay`] to fill, and goes as soon
//!   as no other write is in flight. A lone record (nothing being written) is
//!   committed at once; under a deep queue (a catch-up, a backfill)
//!   transactions grow instead of multiplying, which costs Neo4j less per
//!   record.
//! - The queue is bounded by counting records that wait for their commit; a
//!   submission whose records do not fit is refused whole
//!   ([`SubmitError::QueueFull`]), never half queued.
//! - Records with the same key in flight at the same time are written once: a
//!   later arrival waits on the write already queued.
//! - If the store refuses a batch for a reason retrying will not fix
//!   ([`BatchWrite::should_split`]), the batch is split in halves and the
//!   halves are written again, down to single records, so one bad record never
//!   fails the other callers' records in its batch. Any other failure answers
//!   every record of the batch as [`Outcome::Failed`].
//!
//! The storage is the small [`BatchWrite`] trait, implemented for
//! [`GraphWriter`] (and for `Arc<GraphWriter>`) and easy
//! to implement over an in-memory double in tests. Metrics are the caller's
//! business: pass an [`Observer`] to count outcomes, batch sizes, write times
//! and errors in whatever system the program uses.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use trace_graph::group_commit::{GroupCommit, GroupCommitSettings, Outcome};
//! use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = GraphConfig::new("bolt://127.0.0.1:7687", "neo4j", "secret");
//! let writer = Arc::new(GraphWriter::connect(config).await?);
//! writer.ensure_schema().await?;
//! let (commit, task) = GroupCommit::start(writer, GroupCommitSettings::default(), ())?;
//!
//! // In each concurrent caller: submit, then wait for this record's commit.
//! let trace = cts_client::Trace {
//!     trace_id: Some("0f5c-example".into()),
//!     time: Some(1_700_000_000_000),
//!     ..Default::default()
//! };
//! let record = TraceRecord::new(trace, TraceContext::new("project-id", "eu-de"));
//! let tickets = commit.submit(vec![("0f5c-example".to_string(), record)])?;
//! for ticket in tickets {
//!     match ticket.await {
//!         Ok(Outcome::Stored) => println!("committed"),
//!         Ok(Outcome::Rejected(reason)) => println!("never storable: {reason}"),
//!         Ok(Outcome::Failed(e)) => println!("not stored, try again: {e}"),
//!         Err(_) => println!("the group commit stopped before answering"),
//!     }
//! }
//!
//! // Shutdown: refuse new records, write the queued ones, wait for the answers.
//! commit.close();
//! task.await?;
//! # Ok(())
//! # }
//! ```

use crate::{Error, GraphWriter, TraceRecord};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The storage a [`GroupCommit`] writes batches to.
///
/// Implementations must be safe to call from several tasks at once: up to
/// [`GroupCommitSettings::write_concurrency`] writes run concurrently.
pub trait BatchWrite: Send + Sync + 'static {
    /// What one queued item is (for [`GraphWriter`]: a [`TraceRecord`]).
    type Record: Send + Sync + 'static;
    /// Why a batch write failed; cloned into the [`Outcome`] of every record
    /// of the failed batch.
    type Error: Clone + fmt::Debug + fmt::Display + Send + Sync + 'static;

    /// Writes the batch in one transaction (or as the store sees fit). On
    /// `Ok`, every record not listed in the returned rejections (index in
    /// `batch`, reason) is committed; the listed ones are refused for good
    /// because of their data.
    fn write_batch(
        &self,
        batch: &[Self::Record],
    ) -> impl Future<Output = Result<Vec<(usize, String)>, Self::Error>> + Send;

    /// True when the store refused the batch for a reason retrying will not
    /// fix that may be one record's fault: the batch is then split in halves
    /// to isolate that record. False answers every record as failed.
    fn should_split(&self, error: &Self::Error) -> bool;

    /// The error a write gets when it did not finish within
    /// [`GroupCommitSettings::write_timeout`] (`limit`).
    fn timed_out(&self, limit: Duration) -> Self::Error;
}

/// [`GraphWriter`] as group-commit storage: a rejected row becomes a
/// rejection with [`crate::RowError`]'s message, and a batch Neo4j refuses
/// ([`Error::Rejected`]) is split to isolate the row that caused it.
impl BatchWrite for GraphWriter {
    type Record = TraceRecord;
    type Error = Arc<Error>;

    async fn write_batch(&self, batch: &[TraceRecord]) -> Result<Vec<(usize, String)>, Arc<Error>> {
        let report = self.write(batch).await.map_err(Arc::new)?;
        Ok(report
            .rejected
            .into_iter()
            .map(|(i, e)| (i, e.to_string()))
            .collect())
    }

    fn should_split(&self, error: &Arc<Error>) -> bool {
        matches!(**error, Error::Rejected { .. })
    }

    fn timed_out(&self, limit: Duration) -> Arc<Error> {
        Arc::new(Error::Transient {
            attempts: 1,
            message: format!("the write did not finish within {limit:?}"),
        })
    }
}

impl<W: BatchWrite> BatchWrite for Arc<W> {
    type Record = W::Record;
    type Error = W::Error;

    fn write_batch(
        &self,
        batch: &[Self::Record],
    ) -> impl Future<Output = Result<Vec<(usize, String)>, Self::Error>> + Send {
        (**self).write_batch(batch)
    }

    fn should_split(&self, error: &Self::Error) -> bool {
        (**self).should_split(error)
    }

    fn timed_out(&self, limit: Duration) -> Self::Error {
        (**self).timed_out(limit)
    }
}

/// Watches a [`GroupCommit`] at work, e.g. to feed metrics. Every method has
/// an empty default; `()` observes nothing.
///
/// Methods are called from the submitting task or the write tasks, some
/// while an internal lock is held: keep them short and never call back into
/// the [`GroupCommit`].
pub trait Observer<E>: Send + Sync + 'static {
    /// One queued record got its answer (called once per record written, not
    /// once per waiting duplicate).
    fn answered(&self, outcome: &Outcome<E>) {
        let _ = outcome;
    }

    /// A submission was accepted; `duplicates` of its records (possibly 0)
    /// joined a write already queued instead of being queued again.
    fn coalesced(&self, duplicates: usize) {
        let _ = duplicates;
    }

    /// The number of records waiting for their commit changed to `depth`.
    fn queue_depth(&self, depth: usize) {
        let _ = depth;
    }

    /// A batch write (including each half of a split batch) failed with `error`.
    fn write_failed(&self, error: &E) {
        let _ = error;
    }

    /// A batch (or, after splits, a part of one) is answered as
    /// [`Outcome::Failed`] with `error` for each of its `records` records: the
    /// failure an operator should hear of (the group commit itself logs at
    /// debug level only).
    fn batch_failed(&self, error: &E, records: usize) {
        let _ = (error, records);
    }

    /// A batch write did not finish within `limit` and was abandoned.
    fn write_timed_out(&self, limit: Duration) {
        let _ = limit;
    }

    /// A batch write of `records` records (including each half of a split
    /// batch, successful or not) took `elapsed`.
    fn batch_written(&self, records: usize, elapsed: Duration) {
        let _ = (records, elapsed);
    }
}

impl<E> Observer<E> for () {}

/// How a [`GroupCommit`] forms and runs batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCommitSettings {
    /// Largest batch (records per write); at least 1.
    pub max_events: usize,
    /// Longest wait for a batch to fill while no other write is in flight.
    pub max_delay: Duration,
    /// Longest wait for a batch to fill while another write is in flight; the
    /// batch goes as soon as none is. Zero disables the adaptive wait.
    pub busy_delay: Duration,
    /// Batches written at the same time; 1 to 4096.
    pub write_concurrency: usize,
    /// Records that may wait for their commit at once; at least 1.
    pub queue_capacity: usize,
    /// Time limit for one batch write; a write over it is answered with
    /// [`BatchWrite::timed_out`].
    pub write_timeout: Duration,
}

impl Default for GroupCommitSettings {
    /// The defaults of neo4j-sink: 500 records, no fill wait while idle, 5 ms
    /// while busy, 3 concurrent writes, 10 000 queued records, 30 s per write.
    fn default() -> Self {
        GroupCommitSettings {
            max_events: 500,
            max_delay: Duration::ZERO,
            busy_delay: Duration::from_millis(5),
            write_concurrency: 3,
            queue_capacity: 10_000,
            write_timeout: Duration::from_secs(30),
        }
    }
}

impl GroupCommitSettings {
    /// Checks the bounds documented on the fields.
    pub fn validate(&self) -> Result<(), Error> {
        let problem =
            |setting: &'static str, problem: String| Err(Error::Config { setting, problem });
        if self.max_events == 0 {
            return problem("max_events", "must be at least 1, got 0".into());
        }
        if !(1..=4096).contains(&self.write_concurrency) {
            return problem(
                "write_concurrency",
                format!("must be 1 to 4096, got {}", self.write_concurrency),
            );
        }
        if self.queue_capacity == 0 {
            return problem("queue_capacity", "must be at least 1, got 0".into());
        }
        if self.write_timeout.is_zero() {
            return problem("write_timeout", "must be more than zero".into());
        }
        Ok(())
    }
}

/// What became of one submitted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E> {
    /// Committed.
    Stored,
    /// Refused by the store for its data; never storable.
    Rejected(String),
    /// The write failed; nothing of this record is known to be stored.
    Failed(E),
}

/// Why records could not be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// Not enough room: `needed` more records would exceed `capacity`.
    QueueFull {
        /// Records currently waiting.
        depth: usize,
        /// New queue entries the submission needs.
        needed: usize,
        /// The bound ([`GroupCommitSettings::queue_capacity`]).
        capacity: usize,
    },
    /// [`GroupCommit::close`] was called, or the dispatcher is gone.
    Closed,
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::QueueFull {
                depth,
                needed,
                capacity,
            } => write!(
                f,
                "the group-commit queue is full: {depth} records wait, {needed} more would exceed \
                 the capacity of {capacity}; retry later or raise queue_capacity"
            ),
            SubmitError::Closed => write!(f, "the group commit is closed (shutting down)"),
        }
    }
}

impl std::error::Error for SubmitError {}

/// The wait for one record's commit. An `Err` when awaited means the group
/// commit stopped before answering (nothing is known to be stored).
pub type Ticket<E> = oneshot::Receiver<Outcome<E>>;

struct Job<K, R> {
    key: K,
    record: R,
}

struct State<K, R, E> {
    pending: HashMap<K, Vec<oneshot::Sender<Outcome<E>>>>,
    depth: usize,
    tx: Option<mpsc::UnboundedSender<Job<K, R>>>,
}

struct Inner<K, R, E, O> {
    state: Mutex<State<K, R, E>>,
    capacity: usize,
    observer: O,
}

impl<K: Eq + Hash, R, E: Clone, O: Observer<E>> Inner<K, R, E, O> {
    fn lock(&self) -> MutexGuard<'_, State<K, R, E>> {
        // A panic while holding this lock cannot leave the map half-updated in a
        // way that matters more than refusing service, so keep going.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn finish(&self, keys: Vec<K>, outcomes: Vec<Outcome<E>>) {
        let mut st = self.lock();
        for (key, result) in keys.iter().zip(outcomes) {
            self.observer.answered(&result);
            for waiter in st.pending.remove(key).unwrap_or_default() {
                // The caller may have gone (client disconnected): nothing to tell.
                let _ = waiter.send(result.clone());
            }
        }
        st.depth = st.depth.saturating_sub(keys.len());
        self.observer.queue_depth(st.depth);
    }
}

/// The group-commit queue over a [`BatchWrite`] store, with records
/// de-duplicated by key `K` while in flight; cheap to clone. See the
/// [module documentation](self) for how batches form and for an example over
/// [`GraphWriter`].
///
/// # Example
///
/// Any store works; this one keeps the records in memory and refuses empty ones:
///
/// ```
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use trace_graph::group_commit::{BatchWrite, GroupCommit, GroupCommitSettings, Outcome};
///
/// #[derive(Default)]
/// struct Memory(Mutex<Vec<Vec<String>>>);
///
/// impl BatchWrite for Memory {
///     type Record = String;
///     type Error = String;
///
///     async fn write_batch(&self, batch: &[String]) -> Result<Vec<(usize, String)>, String> {
///         let rejected = batch.iter().enumerate()
///             .filter(|(_, r)| r.is_empty())
///             .map(|(i, _)| (i, "empty record".to_string()))
///             .collect();
///         self.0.lock().unwrap().push(batch.to_vec());
///         Ok(rejected)
///     }
///     fn should_split(&self, _error: &String) -> bool { false }
///     fn timed_out(&self, limit: Duration) -> String { format!("timed out after {limit:?}") }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = std::sync::Arc::new(Memory::default());
/// let (commit, task) = GroupCommit::start(store.clone(), GroupCommitSettings::default(), ())?;
/// // Two callers, one key submitted twice while in flight: written once.
/// let a = commit.submit(vec![("k1", "first".to_string()), ("k2", String::new())])?;
/// let b = commit.submit(vec![("k1", "first".to_string())])?;
/// let mut answers = Vec::new();
/// for ticket in a.into_iter().chain(b) {
///     answers.push(ticket.await?);
/// }
/// assert_eq!(answers[0], Outcome::Stored);
/// assert_eq!(answers[1], Outcome::Rejected("empty record".into()));
/// assert_eq!(answers[2], Outcome::Stored);
/// assert_eq!(store.0.lock().unwrap().concat().len(), 2);
/// commit.close();
/// task.await?;
/// # Ok(())
/// # }
/// ```
pub struct GroupCommit<W: BatchWrite, K, O = ()> {
    inner: Arc<Inner<K, W::Record, W::Error, O>>,
}

impl<W: BatchWrite, K, O> Clone for GroupCommit<W, K, O> {
    fn clone(&self) -> Self {
        GroupCommit {
            inner: self.inner.clone(),
        }
    }
}

impl<W: BatchWrite, K, O> fmt::Debug for GroupCommit<W, K, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupCommit")
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl<W, K, O> GroupCommit<W, K, O>
where
    W: BatchWrite,
    K: Eq + Hash + Clone + Send + Sync + 'static,
    O: Observer<W::Error>,
{
    /// Starts the dispatcher on the current Tokio runtime. The handle finishes
    /// once [`GroupCommit::close`] was called and every queued record has been
    /// written and answered.
    ///
    /// Fails with [`Error::Config`] when a setting is outside the bounds
    /// documented on [`GroupCommitSettings`].
    pub fn start(
        store: W,
        settings: GroupCommitSettings,
        observer: O,
    ) -> Result<(Self, JoinHandle<()>), Error> {
        settings.validate()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                pending: HashMap::new(),
                depth: 0,
                tx: Some(tx),
            }),
            capacity: settings.queue_capacity,
            observer,
        });
        let task = tokio::spawn(dispatch(inner.clone(), rx, Arc::new(store), settings));
        Ok((GroupCommit { inner }, task))
    }

    /// Queues the records, all or none, and returns one ticket per record in
    /// order. A record whose key is already in flight (queued or being
    /// written) is not queued again: its ticket resolves with that write.
    pub fn submit(
        &self,
        records: Vec<(K, W::Record)>,
    ) -> Result<Vec<Ticket<W::Error>>, SubmitError> {
        let mut st = self.inner.lock();
        let tx = match &st.tx {
            Some(tx) if !tx.is_closed() => tx.clone(),
            _ => return Err(SubmitError::Closed),
        };
        let new: HashSet<&K> = records
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !st.pending.contains_key(*k))
            .collect();
        if st.depth + new.len() > self.inner.capacity {
            return Err(SubmitError::QueueFull {
                depth: st.depth,
                needed: new.len(),
                capacity: self.inner.capacity,
            });
        }
        let mut tickets = Vec::with_capacity(records.len());
        let mut duplicates = 0;
        for (key, record) in records {
            let (sender, ticket) = oneshot::channel();
            tickets.push(ticket);
            if let Some(waiters) = st.pending.get_mut(&key) {
                waiters.push(sender);
                duplicates += 1;
                continue;
            }
            st.pending.insert(key.clone(), vec![sender]);
            st.depth += 1;
            if let Err(mpsc::error::SendError(job)) = tx.send(Job { key, record }) {
                // The dispatcher is gone; the dropped sender resolves the ticket as an error.
                st.pending.remove(&job.key);
                st.depth -= 1;
            }
        }
        self.inner.observer.coalesced(duplicates);
        self.inner.observer.queue_depth(st.depth);
        Ok(tickets)
    }

    /// Stops accepting records; already queued records are still written.
    pub fn close(&self) {
        self.inner.lock().tx = None;
    }

    /// Records accepted and not yet answered.
    pub fn depth(&self) -> usize {
        self.inner.lock().depth
    }
}

async fn dispatch<W, K, O>(
    inner: Arc<Inner<K, W::Record, W::Error, O>>,
    mut rx: mpsc::UnboundedReceiver<Job<K, W::Record>>,
    store: Arc<W>,
    settings: GroupCommitSettings,
) where
    W: BatchWrite,
    K: Eq + Hash + Clone + Send + Sync + 'static,
    O: Observer<W::Error>,
{
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
                        // The other writes finished: the store would idle, so stop lingering.
                        _ = running.wait_for(|n| *n == 0), if busy => {}
                    }
                }
            }
        }
        let (inner, store, timeout) = (inner.clone(), store.clone(), settings.write_timeout);
        running_tx.send_modify(|n| *n += 1);
        let running_tx = running_tx.clone();
        tokio::spawn(async move {
            let (keys, records): (Vec<K>, Vec<W::Record>) =
                batch.into_iter().map(|j| (j.key, j.record)).unzip();
            let outcomes =
                write_isolating(store.as_ref(), &records, timeout, &inner.observer).await;
            inner.finish(keys, outcomes);
            running_tx.send_modify(|n| *n -= 1);
            drop(permit);
        });
    }
    // Wait until every write still running has answered its records.
    let _ = slots.acquire_many(settings.write_concurrency as u32).await;
    tracing::debug!("group commit drained");
}

type Outcomes<'a, E> = Pin<Box<dyn Future<Output = Vec<Outcome<E>>> + Send + 'a>>;

/// Writes the records; when the store refuses the batch, splits it to find the bad rows.
fn write_isolating<'a, W: BatchWrite, O: Observer<W::Error>>(
    store: &'a W,
    records: &'a [W::Record],
    timeout: Duration,
    observer: &'a O,
) -> Outcomes<'a, W::Error> {
    let span = tracing::debug_span!("sink.batch", n_events = records.len());
    Box::pin(
        async move {
            let started = Instant::now();
            let result = match tokio::time::timeout(timeout, store.write_batch(records)).await {
                Ok(Ok(rejected)) => Ok(rejected),
                Ok(Err(e)) => {
                    observer.write_failed(&e);
                    Err(e)
                }
                Err(_) => {
                    observer.write_timed_out(timeout);
                    Err(store.timed_out(timeout))
                }
            };
            observer.batch_written(records.len(), started.elapsed());
            match result {
                Ok(rejected) => {
                    let mut outcomes = vec![Outcome::Stored; records.len()];
                    for (index, reason) in rejected {
                        if let Some(slot) = outcomes.get_mut(index) {
                            *slot = Outcome::Rejected(reason);
                        }
                    }
                    outcomes
                }
                Err(e) if records.len() > 1 && store.should_split(&e) => {
                    tracing::debug!(error = %e, "batch refused, splitting it to isolate the cause");
                    let (left, right) = records.split_at(records.len() / 2);
                    let mut outcomes = write_isolating(store, left, timeout, observer).await;
                    outcomes.extend(write_isolating(store, right, timeout, observer).await);
                    outcomes
                }
                Err(e) => {
                    tracing::debug!(error = %e, n_events = records.len(), "batch write failed");
                    observer.batch_failed(&e, records.len());
                    vec![Outcome::Failed(e); records.len()]
                }
            }
        }
        .instrument(span),
    )
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
