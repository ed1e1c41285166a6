//! Bounded concurrent delivery with retries, one event or one batch at a time.
//!
//! At most `max_in_flight` deliveries run at once; [`Pipeline::submit`]
//! waits for a free slot, which is how a slow or absent sink pauses the
//! caller and keeps memory bounded. Each delivery is retried with back-off for
//! as long as the sink keeps answering "retry", and every event ends as
//! [`Outcome::Acked`] or [`Outcome::Rejected`]. Finished deliveries are
//! collected as one [`Completion`] per event for the caller to account for.
//!
//! With [`Batching`] (CloudEvents batch mode) the events submitted one after
//! the other are gathered into a batch until it holds `max_events` or its
//! first event has waited `max_delay` (or [`Pipeline::drain`] is called), and
//! the batch is one delivery: acknowledged as a whole or retried as a whole.
//! A batch the sink refuses for good (a 4xx such as 400 or 413, or a body
//! that cannot be written) is sent again one event at a time, each with its
//! own retries, so only the events the sink refuses on their own end as
//! rejected and one bad event never holds the others back. A batch of one
//! event is sent as a single event.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use cloudevents::Event;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::retry::{RetryPolicy, Verdict};
use crate::transport::Transport;

/// A jitter source returning samples in `[0, 1)`; injectable for tests.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The default jitter source, from the thread-local RNG.
pub fn random_jitter() -> Jitter {
    Arc::new(rand::random::<f64>)
}

/// What the pipeline reports while it works, for the caller's logs and
/// metrics (the crate itself logs at debug level only). Every method has a
/// default that does nothing.
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// An attempt failed and is retried after `wait`. `what` is the event's
    /// id, or `batch of <n> events from <first id>`; `attempt` counts the
    /// retries of this delivery from 1.
    fn retrying(&self, what: &str, attempt: u32, wait: Duration, reason: &str) {
        let _ = (what, attempt, wait, reason);
    }

    /// The sink refused a batch of `events` for good (`status` if it
    /// answered); its events are being sent again one at a time.
    fn batch_refused(&self, events: usize, status: Option<u16>, reason: &str) {
        let _ = (events, status, reason);
    }
}

/// An [`Observer`] that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {}

/// CloudEvents batch mode: how many events a batch holds at most and how long
/// its first event waits for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// Events per batch, at least 1 (1 sends every event alone).
    pub max_events: usize,
    /// How long a batch waits for more events after its first one.
    pub max_delay: Duration,
}

impl Batching {
    /// Batches of at most `max_events` (raised to 1 if 0), sent at the latest
    /// `max_delay` after their first event.
    pub fn new(max_events: usize, max_delay: Duration) -> Batching {
        Batching {
            max_events: max_events.max(1),
            max_delay,
        }
    }
}

/// How one event's delivery ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The sink answered 2xx (for the event, or for a batch holding it).
    Acked,
    /// The sink refused the event for good; it is not retried.
    Rejected {
        /// HTTP status, if there was an answer.
        status: Option<u16>,
        /// Why.
        reason: String,
        /// The refused event, for the dead-letter file.
        event: Box<Event>,
    },
}

/// A finished delivery of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The id given to [`Pipeline::submit`].
    pub id: String,
    /// The number given to [`Pipeline::submit`], handed back unchanged (for
    /// example the event's time in epoch ms, for the caller's bookkeeping).
    pub time_ms: i64,
    /// How it ended.
    pub outcome: Outcome,
}

/// One submitted event.
struct Item {
    id: String,
    time_ms: i64,
    event: Event,
}

/// What every delivery task shares.
struct Shared {
    transport: Arc<dyn Transport>,
    policy: RetryPolicy,
    jitter: Jitter,
    observer: Arc<dyn Observer>,
}

/// The batch still taking events.
struct OpenBatch {
    tx: mpsc::UnboundedSender<Item>,
    count: usize,
}

/// Runs deliveries with bounded concurrency.
pub struct Pipeline {
    shared: Arc<Shared>,
    batching: Option<Batching>,
    max_in_flight: usize,
    tasks: JoinSet<Vec<Completion>>,
    done: VecDeque<Completion>,
    open: Option<OpenBatch>,
    events_in_flight: usize,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("transport", &self.shared.transport)
            .field("policy", &self.shared.policy)
            .field("observer", &self.shared.observer)
            .field("batching", &self.batching)
            .field("max_in_flight", &self.max_in_flight)
            .field("deliveries", &self.tasks.len())
            .field("events_in_flight", &self.events_in_flight)
            .finish()
    }
}

impl Pipeline {
    /// A pipeline over `transport` sending single events, at most
    /// `max_in_flight` (at least 1) deliveries at once, with the back-off of
    /// `policy` randomized by `jitter`, reporting to no [`Observer`].
    pub fn new(
        transport: Arc<dyn Transport>,
        policy: RetryPolicy,
        max_in_flight: usize,
        jitter: Jitter,
    ) -> Pipeline {
        Pipeline {
            shared: Arc::new(Shared {
                transport,
                policy,
                jitter,
                observer: Arc::new(Quiet),
            }),
            batching: None,
            max_in_flight: max_in_flight.max(1),
            tasks: JoinSet::new(),
            done: VecDeque::new(),
            open: None,
            events_in_flight: 0,
        }
    }

    /// Reports retries and refused batches to `observer`. Call before the
    /// first [`Pipeline::submit`].
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Pipeline {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.observer = observer;
        }
        self
    }

    /// Sends batches (`Some`) or single events (`None`, the default). Call
    /// before the first [`Pipeline::submit`].
    pub fn with_batching(mut self, batching: Option<Batching>) -> Pipeline {
        self.batching = batching.filter(|b| b.max_events > 1);
        self
    }

    /// Events submitted whose completion has not been collected yet.
    pub fn in_flight(&self) -> usize {
        self.events_in_flight
    }

    /// Starts delivering `event`, first waiting for a free slot. In batch mode
    /// the event joins the open batch, or opens a new one.
    pub async fn submit(&mut self, id: String, time_ms: i64, event: Event) {
        let mut item = Item { id, time_ms, event };
        let Some(batching) = self.batching else {
            self.wait_for_slot().await;
            let shared = Arc::clone(&self.shared);
            self.tasks
                .spawn(async move { vec![deliver_one(&shared, item).await] });
            self.events_in_flight += 1;
            return;
        };
        if let Some(open) = &mut self.open {
            match open.tx.send(item) {
                Ok(()) => {
                    self.events_in_flight += 1;
                    open.count += 1;
                    if open.count >= batching.max_events {
                        // Dropping the sender sends the full batch at once.
                        self.open = None;
                    }
                    return;
                }
                // The batch's time is up and it is on its way: open another.
                Err(mpsc::error::SendError(back)) => {
                    item = back;
                    self.open = None;
                }
            }
        }
        self.wait_for_slot().await;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::clone(&self.shared);
        self.tasks
            .spawn(async move { gather_and_send(&shared, batching, item, rx).await });
        self.open = Some(OpenBatch { tx, count: 1 });
        self.events_in_flight += 1;
    }

    /// Finished deliveries collected so far (without waiting).
    pub fn take_done(&mut self) -> Vec<Completion> {
        while let Some(res) = self.tasks.try_join_next() {
            self.collect(res);
        }
        self.done.drain(..).collect()
    }

    /// Sends the open batch now and waits until every started delivery has finished.
    pub async fn drain(&mut self) {
        self.open = None;
        while !self.tasks.is_empty() {
            self.join_one().await;
        }
    }

    /// Waits up to `grace` for started deliveries, then abandons the rest.
    /// Returns how many events were abandoned (they were not acknowledged).
    pub async fn drain_within(&mut self, grace: Duration) -> usize {
        let _ = tokio::time::timeout(grace, self.drain()).await;
        self.tasks.abort_all();
        while let Some(res) = self.tasks.join_next().await {
            self.collect(res);
        }
        std::mem::take(&mut self.events_in_flight)
    }

    async fn wait_for_slot(&mut self) {
        while self.tasks.len() >= self.max_in_flight {
            self.join_one().await;
        }
    }

    async fn join_one(&mut self) {
        if let Some(res) = self.tasks.join_next().await {
            self.collect(res);
        }
    }

    fn collect(&mut self, res: Result<Vec<Completion>, tokio::task::JoinError>) {
        match res {
            Ok(completions) => {
                self.events_in_flight = self.events_in_flight.saturating_sub(completions.len());
                self.done.extend(completions);
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => tracing::error!(error = %e, "a delivery task failed unexpectedly"),
        }
    }
}

/// Gathers a batch from `first` and what arrives on `rx` until it is full,
/// the sender is dropped or `max_delay` has passed, then sends it.
async fn gather_and_send(
    shared: &Shared,
    batching: Batching,
    first: Item,
    mut rx: mpsc::UnboundedReceiver<Item>,
) -> Vec<Completion> {
    let deadline = tokio::time::Instant::now() + batching.max_delay;
    let mut items = vec![first];
    while items.len() < batching.max_events {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(item)) => items.push(item),
            Ok(None) | Err(_) => break,
        }
    }
    // Events sent before the close are still in the channel: they belong here.
    rx.close();
    while let Some(item) = rx.recv().await {
        items.push(item);
    }
    deliver_batch(shared, items).await
}

/// What one attempt carries.
#[derive(Clone, Copy)]
enum Payload<'a> {
    One(&'a Event),
    Many(&'a [Event]),
}

/// One event, alone, until it is settled.
async fn deliver_one(shared: &Shared, item: Item) -> Completion {
    let outcome = match until_settled(shared, &item.id, Payload::One(&item.event)).await {
        Ok(()) => Outcome::Acked,
        Err((status, reason)) => Outcome::Rejected {
            status,
            reason,
            event: Box::new(item.event),
        },
    };
    Completion {
        id: item.id,
        time_ms: item.time_ms,
        outcome,
    }
}

/// A batch until it is settled; if it is refused, its events one by one.
async fn deliver_batch(shared: &Shared, mut items: Vec<Item>) -> Vec<Completion> {
    if items.len() == 1 {
        if let Some(item) = items.pop() {
            return vec![deliver_one(shared, item).await];
        }
    }
    let (keys, events): (Vec<(String, i64)>, Vec<Event>) = items
        .into_iter()
        .map(|i| ((i.id, i.time_ms), i.event))
        .unzip();
    let what = format!(
        "batch of {} events from {}",
        keys.len(),
        keys.first().map(|k| k.0.as_str()).unwrap_or_default()
    );
    match until_settled(shared, &what, Payload::Many(&events)).await {
        Ok(()) => keys
            .into_iter()
            .map(|(id, time_ms)| Completion {
                id,
                time_ms,
                outcome: Outcome::Acked,
            })
            .collect(),
        Err((status, reason)) => {
            tracing::debug!(events = keys.len(), status, error = %reason, "batch refused; sending its events one by one");
            shared.observer.batch_refused(keys.len(), status, &reason);
            let mut out = Vec::with_capacity(keys.len());
            for ((id, time_ms), event) in keys.into_iter().zip(events) {
                out.push(deliver_one(shared, Item { id, time_ms, event }).await);
            }
            out
        }
    }
}

/// The retry loop: `Ok` once acknowledged, `Err((status, reason))` once
/// refused for good or out of attempts.
async fn until_settled(
    shared: &Shared,
    what: &str,
    payload: Payload<'_>,
) -> Result<(), (Option<u16>, String)> {
    let policy = &shared.policy;
    let mut attempt: u32 = 0;
    loop {
        let verdict = match payload {
            Payload::One(event) => shared.transport.attempt(event).await,
            Payload::Many(events) => shared.transport.attempt_batch(events).await,
        };
        match verdict {
            Verdict::Done => return Ok(()),
            Verdict::Reject { status, reason } => return Err((status, reason)),
            Verdict::Retry { reason, .. } if attempt.saturating_add(1) >= policy.max_attempts => {
                return Err((
                    None,
                    format!("gave up after {} attempts: {reason}", policy.max_attempts),
                ));
            }
            Verdict::Retry { after, reason } => {
                attempt = attempt.saturating_add(1);
                let wait = after
                    .map(|a| a.min(policy.max_retry_after))
                    .unwrap_or_else(|| policy.backoff(attempt, (shared.jitter)()));
                tracing::debug!(what, attempt, wait_ms = wait.as_millis() as u64, error = %reason, "delivery failed; retrying");
                shared.observer.retrying(what, attempt, wait, &reason);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
