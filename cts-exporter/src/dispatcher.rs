//! From a fetched trace to a finished delivery, shared by the poller and backfill.
//!
//! For each trace: count it, skip it if its id is already claimed, map it to
//! a CloudEvent, and hand it to the bounded [`Pipeline`]. Completions are
//! booked here: acknowledged ids become "delivered" for de-duplication and
//! the state file; refused ones are logged with id and reason, counted, and
//! written to the dead-letter file.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use cloudevents::AttributesReader;
use cts_client::Trace;
use serde_json::Value;

use crate::delivery::dead_letter::DeadLetter;
use crate::delivery::pipeline::{Completion, Outcome, Pipeline};
use crate::event::{to_event, trace_time_ms, EventContext};
use crate::metrics::PollerMetrics;
use crate::overrides::Overrides;
use crate::seen::Seen;

/// Maps, de-duplicates, delivers and books traces for one event source.
#[derive(Debug)]
pub struct Dispatcher {
    ctx: EventContext,
    overrides: Arc<Overrides>,
    seen: Seen,
    pipeline: Pipeline,
    metrics: Arc<PollerMetrics>,
    dead_letter: Option<Arc<DeadLetter>>,
}

impl Dispatcher {
    /// A dispatcher for the events of `ctx`.
    pub fn new(
        ctx: EventContext,
        overrides: Arc<Overrides>,
        seen: Seen,
        pipeline: Pipeline,
        metrics: Arc<PollerMetrics>,
        dead_letter: Option<Arc<DeadLetter>>,
    ) -> Dispatcher {
        Dispatcher {
            ctx,
            overrides,
            seen,
            pipeline,
            metrics,
            dead_letter,
        }
    }

    /// The event context (source, project, ...).
    pub fn context(&self) -> &EventContext {
        &self.ctx
    }

    /// The de-duplication set.
    pub fn seen(&self) -> &Seen {
        &self.seen
    }

    /// The de-duplication set, mutable (eviction, restore).
    pub fn seen_mut(&mut self) -> &mut Seen {
        &mut self.seen
    }

    /// Takes one fetched trace; waits while the pipeline is full.
    /// `fallback_time_ms` stands in for a trace without any time.
    pub async fn offer(&mut self, trace: Trace, fallback_time_ms: i64) {
        self.metrics.fetched.fetch_add(1, Ordering::Relaxed);
        let time_ms = trace_time_ms(&trace).unwrap_or(fallback_time_ms);
        if let Some(id) = trace.id() {
            if !self.seen.claim(id, time_ms) {
                self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let event = match to_event(&trace, &self.ctx, &self.overrides) {
            Ok(ev) => ev,
            Err(e) => {
                self.metrics.rejected.fetch_add(1, Ordering::Relaxed);
                let id = trace.id().unwrap_or("");
                self.seen.complete(id);
                tracing::warn!(id, error = %e, "trace skipped: it cannot become a CloudEvent");
                let raw = serde_json::to_value(&trace).unwrap_or(Value::Null);
                self.dead_letter(id, None, &e.to_string(), raw);
                return;
            }
        };
        self.metrics.sent.fetch_add(1, Ordering::Relaxed);
        self.pipeline
            .submit(event.id().to_string(), time_ms, event)
            .await;
        self.book();
    }

    /// Waits until every started delivery has finished and is booked.
    pub async fn drain(&mut self) {
        self.pipeline.drain().await;
        self.book();
    }

    /// Deliveries not yet finished.
    pub fn in_flight(&self) -> usize {
        self.pipeline.in_flight()
    }

    /// At shutdown: finishes deliveries within `grace`, abandons the rest and
    /// forgets their claims. Returns how many were abandoned.
    pub async fn stop(&mut self, grace: Duration) -> usize {
        let abandoned = self.pipeline.drain_within(grace).await;
        self.book();
        self.seen.release_all_pending();
        abandoned
    }

    fn book(&mut self) {
        for c in self.pipeline.take_done() {
            self.book_one(c);
        }
    }

    fn book_one(&mut self, c: Completion) {
        self.seen.complete(&c.id);
        match c.outcome {
            Outcome::Acked => {
                self.metrics.acked.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Rejected {
                status,
                reason,
                event,
            } => {
                self.metrics.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id = %c.id, status, reason = %reason, "the sink refused the event; it is not retried");
                let ev = serde_json::to_value(&*event).unwrap_or(Value::Null);
                self.dead_letter(&c.id, status, &reason, ev);
            }
        }
    }

    fn dead_letter(&self, id: &str, status: Option<u16>, reason: &str, event: Value) {
        if let Some(dl) = &self.dead_letter {
            if let Err(e) = dl.write(id, status, reason, event) {
                tracing::error!(id, path = %dl.path().display(), error = %e, "cannot write the dead-letter file");
            }
        }
    }
}
