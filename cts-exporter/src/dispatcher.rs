//! From a fetched trace to a finished delivery, shared by the poller and backfill.
//!
//! For each trace: count it, skip it if its id is already claimed, map it to
//! a CloudEvent, and hand it to the bounded [`Pipeline`]. Completions are
//! booked here: acknowledged ids become "delivered" for de-duplication and
//! the state file; refused ones are logged with id and reason, counted, and
//! written to the dead-letter file. A trace CTS sent that cannot be read at
//! all is reported the same way (ERROR log, counter, dead-letter file), once
//! however often overlapping windows read it again.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use cloudevents::AttributesReader;
use cts_client::{Trace, UndecodableTrace};
use serde_json::Value;

use crate::delivery::dead_letter::{DeadLetter, UNDECODABLE_REASON};
use crate::delivery::pipeline::{Completion, Outcome, Pipeline};
use crate::event::{to_event, trace_time_ms, EventContext};
use crate::metrics::PollerMetrics;
use crate::overrides::Overrides;
use cts_client::follow::{Reported, Seen};

/// Maps, de-duplicates, delivers and books traces for one event source.
#[derive(Debug)]
pub struct Dispatcher {
    ctx: EventContext,
    overrides: Arc<Overrides>,
    seen: Seen,
    pipeline: Pipeline,
    metrics: Arc<PollerMetrics>,
    dead_letter: Option<Arc<DeadLetter>>,
    reported: Reported,
}

/// Without a dead-letter file, at most this much of an undecodable trace's
/// JSON goes into its ERROR line.
pub const LOGGED_RAW_BYTES: usize = 2048;

/// The first `max` bytes of `text` (on a char boundary), with what was cut.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = (0..=max)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}… ({} bytes in all)", &text[..end], text.len())
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
        // Traces an earlier run already put into the dead-letter file are not reported again.
        let mut reported = Reported::default();
        if let Some(dl) = &dead_letter {
            if let Err(e) = dl.each_undecodable(|raw| {
                reported.first_time(raw);
            }) {
                tracing::warn!(
                    dead_letter = %dl.path().display(), error = %e,
                    "cannot read the dead-letter file; unreadable traces it holds may be reported again"
                );
            }
        }
        Dispatcher {
            ctx,
            overrides,
            seen,
            pipeline,
            metrics,
            dead_letter,
            reported,
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

    /// Reports a trace CTS sent that cannot be read: an ERROR log line (its
    /// trace_id, service, name, position and the decode error), the
    /// undecodable counter, and the dead-letter file with its raw JSON (or,
    /// without one, the first [`LOGGED_RAW_BYTES`] of it in the log line).
    /// It is never delivered: it cannot become a valid event. The same trace
    /// read again is only logged at debug level. Returns whether it was new.
    pub fn undecodable(&mut self, u: UndecodableTrace) -> bool {
        let trace_id = u.trace_id.as_deref().unwrap_or("");
        let service_type = u.service_type.as_deref().unwrap_or("");
        let trace_name = u.trace_name.as_deref().unwrap_or("");
        if !self.reported.first_time(&u.raw) {
            tracing::debug!(trace_id, "undecodable trace read again; already reported");
            return false;
        }
        self.metrics.undecodable.fetch_add(1, Ordering::Relaxed);
        let msg = format!("{UNDECODABLE_REASON}; it is not delivered");
        let kept = self.dead_letter.as_ref().map(|dl| {
            let reason = format!("{UNDECODABLE_REASON}: {u}");
            (dl.path(), dl.write_raw(trace_id, &reason, &u.raw))
        });
        match kept {
            Some((path, Ok(()))) => tracing::error!(
                trace_id, service_type, trace_name, index = u.index, error = %u.error,
                dead_letter = %path.display(), "{msg}; its JSON is in the dead-letter file"
            ),
            Some((path, Err(e))) => tracing::error!(
                trace_id, service_type, trace_name, index = u.index, error = %u.error,
                dead_letter = %path.display(), write_error = %e,
                raw = %bounded(&u.raw, LOGGED_RAW_BYTES),
                "{msg}; the dead-letter file could not be written, so its JSON is here"
            ),
            None => tracing::error!(
                trace_id, service_type, trace_name, index = u.index, error = %u.error,
                raw = %bounded(&u.raw, LOGGED_RAW_BYTES),
                "{msg}; set CTS_DEAD_LETTER_FILE to keep such traces whole"
            ),
        }
        true
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_on_a_char_boundary() {
        assert_eq!(bounded("abc", 5), "abc");
        assert_eq!(bounded("ééé", 3), "é… (6 bytes in all)");
    }
}
