//! Bounded concurrent delivery with retries.
//!
//! At most `max_in_flight` events are being delivered at once; [`Pipeline::submit`]
//! waits for a free slot, which is how a slow or absent sink pauses polling
//! and keeps memory bounded. Each event is retried with backoff for as long
//! as the sink keeps answering "retry", and ends as [`Outcome::Acked`] or
//! [`Outcome::Rejected`]. Finished deliveries are collected as
//! [`Completion`]s for the caller to account for.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cloudevents::Event;
use tokio::task::JoinSet;

use cts_client::RetryConfig;

use crate::delivery::retry::Verdict;
use crate::delivery::transport::Transport;

/// A jitter source returning samples in `[0, 1)`; injectable for tests.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The default jitter source, from the thread-local RNG.
pub fn random_jitter() -> Jitter {
    Arc::new(rand::random::<f64>)
}

/// How one event's delivery ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The sink answered 2xx.
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

/// A finished delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Trace id.
    pub id: String,
    /// Trace time (epoch ms), used for de-duplication bookkeeping.
    pub time_ms: i64,
    /// How it ended.
    pub outcome: Outcome,
}

/// Runs deliveries with bounded concurrency.
#[derive(Debug)]
pub struct Pipeline {
    transport: Arc<dyn Transport>,
    policy: RetryConfig,
    jitter: JitterHolder,
    max_in_flight: usize,
    tasks: JoinSet<Completion>,
    done: VecDeque<Completion>,
    retries: Arc<AtomicU64>,
}

struct JitterHolder(Jitter);

impl std::fmt::Debug for JitterHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jitter")
    }
}

impl Pipeline {
    /// A pipeline over `transport`; `retries` counts every retry made.
    pub fn new(
        transport: Arc<dyn Transport>,
        policy: RetryConfig,
        max_in_flight: usize,
        jitter: Jitter,
        retries: Arc<AtomicU64>,
    ) -> Pipeline {
        Pipeline {
            transport,
            policy,
            jitter: JitterHolder(jitter),
            max_in_flight: max_in_flight.max(1),
            tasks: JoinSet::new(),
            done: VecDeque::new(),
            retries,
        }
    }

    /// Deliveries started and not yet collected.
    pub fn in_flight(&self) -> usize {
        self.tasks.len()
    }

    /// Starts delivering `event`, first waiting for a free slot.
    pub async fn submit(&mut self, id: String, time_ms: i64, event: Event) {
        while self.tasks.len() >= self.max_in_flight {
            self.join_one().await;
        }
        let transport = Arc::clone(&self.transport);
        let policy = self.policy.clone();
        let jitter = Arc::clone(&self.jitter.0);
        let retries = Arc::clone(&self.retries);
        self.tasks.spawn(async move {
            let outcome = deliver(&*transport, event, &policy, &*jitter, &retries, &id).await;
            Completion {
                id,
                time_ms,
                outcome,
            }
        });
    }

    /// Finished deliveries collected so far (without waiting).
    pub fn take_done(&mut self) -> Vec<Completion> {
        while let Some(res) = self.tasks.try_join_next() {
            self.collect(res);
        }
        self.done.drain(..).collect()
    }

    /// Waits until every started delivery has finished.
    pub async fn drain(&mut self) {
        while !self.tasks.is_empty() {
            self.join_one().await;
        }
    }

    /// Waits up to `grace` for started deliveries, then abandons the rest.
    /// Returns how many were abandoned (their events were not acknowledged).
    pub async fn drain_within(&mut self, grace: Duration) -> usize {
        let _ = tokio::time::timeout(grace, self.drain()).await;
        let abandoned = self.tasks.len();
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        abandoned
    }

    async fn join_one(&mut self) {
        if let Some(res) = self.tasks.join_next().await {
            self.collect(res);
        }
    }

    fn collect(&mut self, res: Result<Completion, tokio::task::JoinError>) {
        match res {
            Ok(c) => self.done.push_back(c),
            Err(e) if e.is_cancelled() => {}
            Err(e) => tracing::error!(error = %e, "a delivery task failed unexpectedly"),
        }
    }
}

/// The retry loop for one event.
async fn deliver(
    transport: &dyn Transport,
    event: Event,
    policy: &RetryConfig,
    jitter: &(dyn Fn() -> f64 + Send + Sync),
    retries: &AtomicU64,
    id: &str,
) -> Outcome {
    let mut attempt: u32 = 0;
    loop {
        match transport.attempt(&event).await {
            Verdict::Done => return Outcome::Acked,
            Verdict::Reject { status, reason } => {
                return Outcome::Rejected {
                    status,
                    reason,
                    event: Box::new(event),
                }
            }
            Verdict::Retry { reason, .. } if attempt.saturating_add(1) >= policy.max_attempts => {
                return Outcome::Rejected {
                    status: None,
                    reason: format!("gave up after {} attempts: {reason}", policy.max_attempts),
                    event: Box::new(event),
                };
            }
            Verdict::Retry { after, reason } => {
                attempt = attempt.saturating_add(1);
                retries.fetch_add(1, Ordering::Relaxed);
                let wait = after
                    .map(|a| a.min(policy.max_retry_after))
                    .unwrap_or_else(|| policy.backoff(attempt, jitter()));
                if attempt == 1 || attempt % 10 == 0 {
                    tracing::warn!(id, attempt, wait_ms = wait.as_millis() as u64, error = %reason, "delivery failed; retrying");
                } else {
                    tracing::debug!(id, attempt, wait_ms = wait.as_millis() as u64, error = %reason, "delivery failed; retrying");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
