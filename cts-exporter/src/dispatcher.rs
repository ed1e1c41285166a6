//! The exporter's side of delivery: [`cts_client::event::Dispatcher`] maps,
//! de-duplicates and delivers (shared by the poller and backfill); what it
//! hears is booked here. Acknowledged events are counted; refused ones are
//! logged with id and reason, counted, and written to the dead-letter file.
//! A trace CTS sent that cannot be read at all is reported the same way
//! (ERROR log, counter, dead-letter file), once however often overlapping
//! windows read it again; the poller's progress becomes logs and metrics
//! (`crate::poller`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use cloudevents::Event;
use cts_client::event::{DispatchObserver, MapError};
use cts_client::follow::{Progress, Reported};
use cts_client::UndecodableTrace;
use serde_json::Value;

use crate::delivery::dead_letter::{DeadLetter, UNDECODABLE_REASON};
use crate::metrics::PollerMetrics;

/// The dispatcher of one tenant (or one backfill run).
pub type Dispatcher = cts_client::event::Dispatcher<Booked>;

/// Books what a [`Dispatcher`] reports: metrics, logs, dead-letter file.
#[derive(Debug)]
pub struct Booked {
    /// The cloud's name, for logs.
    pub name: String,
    /// The cloud's metrics.
    pub metrics: Arc<PollerMetrics>,
    /// The dead-letter file, if configured.
    pub dead_letter: Option<Arc<DeadLetter>>,
}

/// Without a dead-letter file, at most this much of an undecodable trace's
/// JSON goes into its ERROR line.
pub const LOGGED_RAW_BYTES: usize = 2048;

/// Traces an earlier run already put into the dead-letter file, not to be reported again.
pub fn reported(dead_letter: Option<&DeadLetter>) -> Reported {
    let mut reported = Reported::default();
    if let Some(dl) = dead_letter {
        if let Err(e) = dl.each_undecodable(|raw| {
            reported.first_time(raw);
        }) {
            tracing::warn!(
                dead_letter = %dl.path().display(), error = %e,
                "cannot read the dead-letter file; unreadable traces it holds may be reported again"
            );
        }
    }
    reported
}

impl Booked {
    fn dead_letter(&self, id: &str, status: Option<u16>, reason: &str, event: Value) {
        if let Some(dl) = &self.dead_letter {
            if let Err(e) = dl.write(id, status, reason, event) {
                tracing::error!(id, path = %dl.path().display(), error = %e, "cannot write the dead-letter file");
            }
        }
    }
}

impl DispatchObserver for Booked {
    fn fetched(&mut self) {
        self.metrics.fetched.fetch_add(1, Ordering::Relaxed);
    }

    fn duplicate(&mut self) {
        self.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
    }

    fn sent(&mut self) {
        self.metrics.sent.fetch_add(1, Ordering::Relaxed);
    }

    fn acked(&mut self, _id: &str) {
        self.metrics.acked.fetch_add(1, Ordering::Relaxed);
    }

    fn unmappable(&mut self, id: &str, e: &MapError, trace: Value) {
        self.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(id, error = %e, "trace skipped: it cannot become a CloudEvent");
        self.dead_letter(id, None, &e.to_string(), trace);
    }

    fn rejected(&mut self, id: &str, status: Option<u16>, reason: &str, event: &Event) {
        self.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(id = %id, status, reason = %reason, "the sink refused the event; it is not retried");
        let ev = serde_json::to_value(event).unwrap_or(Value::Null);
        self.dead_letter(id, status, reason, ev);
    }

    /// An ERROR log line (its trace_id, service, name, position and the
    /// decode error), the undecodable counter, and the dead-letter file with
    /// its raw JSON (or, without one, the first [`LOGGED_RAW_BYTES`] of it in
    /// the log line).
    fn undecodable(&mut self, u: &UndecodableTrace) {
        let trace_id = u.trace_id.as_deref().unwrap_or("");
        let service_type = u.service_type.as_deref().unwrap_or("");
        let trace_name = u.trace_name.as_deref().unwrap_or("");
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
                raw = %u.raw_excerpt(LOGGED_RAW_BYTES),
                "{msg}; the dead-letter file could not be written, so its JSON is here"
            ),
            None => tracing::error!(
                trace_id, service_type, trace_name, index = u.index, error = %u.error,
                raw = %u.raw_excerpt(LOGGED_RAW_BYTES),
                "{msg}; set CTS_DEAD_LETTER_FILE to keep such traces whole"
            ),
        }
    }

    fn progress(&mut self, source: &str, p: Progress<'_>) {
        crate::poller::report(&self.name, source, &self.metrics, p);
    }
}
