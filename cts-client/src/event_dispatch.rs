//! A [`Deliver`] that sends each trace as its CloudEvent (feature `delivery`).
//!
//! For each trace: skip it if its id is already claimed, map it with
//! [`to_event`], and hand it to a bounded [`ce_delivery::Pipeline`];
//! completions are booked as they come (acknowledged ids become "delivered"
//! for de-duplication and the checkpoint). A trace CTS sent that cannot be
//! read is reported once however often overlapping windows read it again.
//! What the owner counts, logs and keeps (a dead-letter file) it hears
//! through its [`DispatchObserver`]. This is what cts-exporter runs for each
//! tenant and for a backfill.

use std::collections::BTreeMap;
use std::time::Duration;

use ce_delivery::cloudevents::{AttributesReader, Event};
use ce_delivery::pipeline::{Completion, Outcome, Pipeline};

use super::{to_event, trace_time_ms, EventContext, MapError};
use crate::follow::{Deliver, Progress, Reported, Seen};
use crate::{Trace, UndecodableTrace};

/// What a [`Dispatcher`] tells its owner; every method does nothing by default.
pub trait DispatchObserver: Send {
    /// A trace was offered (duplicates included).
    fn fetched(&mut self) {}
    /// A trace was skipped: its id was already claimed.
    fn duplicate(&mut self) {}
    /// An event was handed to the pipeline.
    fn sent(&mut self) {}
    /// The sink acknowledged the event `id`.
    fn acked(&mut self, id: &str) {
        let _ = id;
    }
    /// The trace `id` cannot become an event (not sent); `trace` is its JSON.
    fn unmappable(&mut self, id: &str, error: &MapError, trace: serde_json::Value) {
        let _ = (id, error, trace);
    }
    /// The sink refused the event `id` for good (status when it answered).
    fn rejected(&mut self, id: &str, status: Option<u16>, reason: &str, event: &Event) {
        let _ = (id, status, reason, event);
    }
    /// A trace CTS sent that cannot be read, the first time it is seen.
    fn undecodable(&mut self, trace: &UndecodableTrace) {
        let _ = trace;
    }
    /// The poller's progress, with the event source it is about.
    fn progress(&mut self, source: &str, progress: Progress<'_>) {
        let _ = (source, progress);
    }
}

/// Maps, de-duplicates, delivers and books the traces of one event source.
#[derive(Debug)]
pub struct Dispatcher<O> {
    ctx: EventContext,
    overrides: BTreeMap<String, String>,
    seen: Seen,
    pipeline: Pipeline,
    reported: Reported,
    observer: O,
}

impl<O: DispatchObserver> Dispatcher<O> {
    /// A dispatcher sending the events of `ctx`, with `overrides` set on each
    /// (as [`to_event`]), through `pipeline`. `reported` holds undecodable
    /// traces already reported (e.g. read back from a dead-letter file).
    pub fn new(
        ctx: EventContext,
        overrides: BTreeMap<String, String>,
        seen: Seen,
        pipeline: Pipeline,
        reported: Reported,
        observer: O,
    ) -> Dispatcher<O> {
        Dispatcher {
            ctx,
            overrides,
            seen,
            pipeline,
            reported,
            observer,
        }
    }

    /// The event context (source, project, ...).
    pub fn context(&self) -> &EventContext {
        &self.ctx
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }

    fn book(&mut self) {
        for c in self.pipeline.take_done() {
            self.book_one(c);
        }
    }

    fn book_one(&mut self, c: Completion) {
        self.seen.complete(&c.id);
        match c.outcome {
            Outcome::Acked => self.observer.acked(&c.id),
            Outcome::Rejected {
                status,
                reason,
                event,
            } => self.observer.rejected(&c.id, status, &reason, &event),
        }
    }
}

impl<O: DispatchObserver> Deliver for Dispatcher<O> {
    fn seen(&self) -> &Seen {
        &self.seen
    }

    fn seen_mut(&mut self) -> &mut Seen {
        &mut self.seen
    }

    /// Waits while the pipeline is full.
    async fn offer(&mut self, trace: Trace, fallback_time_ms: i64) {
        self.observer.fetched();
        let time_ms = trace_time_ms(&trace).unwrap_or(fallback_time_ms);
        if let Some(id) = trace.id() {
            if !self.seen.claim(id, time_ms) {
                self.observer.duplicate();
                return;
            }
        }
        let event = match to_event(&trace, &self.ctx, &self.overrides) {
            Ok(ev) => ev,
            Err(e) => {
                let id = trace.id().unwrap_or("");
                self.seen.complete(id);
                let raw = serde_json::to_value(&trace).unwrap_or_default();
                self.observer.unmappable(id, &e, raw);
                return;
            }
        };
        self.observer.sent();
        self.pipeline
            .submit(event.id().to_string(), time_ms, event)
            .await;
        self.book();
    }

    /// Never delivered (it cannot become a valid event): the observer hears
    /// of it the first time only; again it is logged at debug level.
    async fn undecodable(&mut self, u: UndecodableTrace) {
        if self.reported.first_time(&u.raw) {
            self.observer.undecodable(&u);
        } else {
            let trace_id = u.trace_id.as_deref().unwrap_or("");
            tracing::debug!(trace_id, "undecodable trace read again; already reported");
        }
    }

    async fn drain(&mut self) -> bool {
        self.pipeline.drain().await;
        self.book();
        true
    }

    fn in_flight(&self) -> usize {
        self.pipeline.in_flight()
    }

    /// Finishes deliveries within `grace`, abandons the rest and forgets their claims.
    async fn stop(&mut self, grace: Duration) -> usize {
        let abandoned = self.pipeline.drain_within(grace).await;
        self.book();
        self.seen.release_all_pending();
        abandoned
    }

    fn progress(&mut self, p: Progress<'_>) {
        self.observer.progress(&self.ctx.source, p);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use ce_delivery::{RetryPolicy, Transport, Verdict};

    use super::*;

    /// Acknowledges every event except those whose id starts with `bad`.
    #[derive(Debug, Default)]
    struct Sink(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl Transport for Sink {
        async fn attempt(&self, event: &Event) -> Verdict {
            self.0.lock().expect("lock").push(event.id().to_string());
            if event.id().starts_with("bad") {
                Verdict::Reject {
                    status: Some(400),
                    reason: "no".into(),
                }
            } else {
                Verdict::Done
            }
        }
    }

    #[derive(Debug, Default)]
    struct Log(Vec<String>);

    impl DispatchObserver for Log {
        fn duplicate(&mut self) {
            self.0.push("duplicate".into());
        }
        fn acked(&mut self, id: &str) {
            self.0.push(format!("acked {id}"));
        }
        fn unmappable(&mut self, id: &str, error: &MapError, trace: serde_json::Value) {
            self.0
                .push(format!("unmappable {id:?} {error} {}", trace["trace_name"]));
        }
        fn rejected(&mut self, id: &str, status: Option<u16>, reason: &str, event: &Event) {
            self.0
                .push(format!("rejected {id} {status:?} {reason} {}", event.ty()));
        }
        fn undecodable(&mut self, trace: &UndecodableTrace) {
            self.0.push(format!("undecodable {}", trace.raw));
        }
    }

    fn dispatcher(sink: Arc<Sink>) -> Dispatcher<Log> {
        let endpoint = url::Url::parse("https://cts.eu-de.otc.t-systems.com/v3/p").expect("url");
        let ctx = EventContext::new(&endpoint, "p", "d", "eu-de", "system");
        let pipeline = Pipeline::new(sink, RetryPolicy::default(), 2, Arc::new(|| 0.5));
        let overrides = BTreeMap::from([("team".to_string(), "ops".to_string())]);
        Dispatcher::new(
            ctx,
            overrides,
            Seen::new(100),
            pipeline,
            Reported::default(),
            Log::default(),
        )
    }

    fn trace(id: &str) -> Trace {
        serde_json::from_value(serde_json::json!({"trace_id": id, "trace_name": "n", "time": 5}))
            .expect("trace")
    }

    #[tokio::test]
    async fn each_id_is_sent_once_and_every_outcome_is_booked() {
        let sink = Arc::new(Sink::default());
        let mut d = dispatcher(Arc::clone(&sink));
        for id in ["a", "bad-1", "a", "ünï-☃", " "] {
            d.offer(trace(id), 0).await;
        }
        assert!(d.drain().await);
        let mut sent = sink.0.lock().expect("lock").clone();
        sent.sort();
        assert_eq!(sent, ["a", "bad-1", "ünï-☃"]);
        let mut log = d.observer().0.clone();
        log.sort();
        assert_eq!(
            log,
            [
                "acked a",
                "acked ünï-☃",
                "duplicate",
                "rejected bad-1 Some(400) no com.otc.cts.trace.unknown.n",
                "unmappable \"\" trace has no trace_id \"n\"",
            ]
        );
        // Booked: acknowledged and refused ids stay claimed, so they are not sent again.
        assert_eq!(d.in_flight(), 0);
        d.offer(trace("a"), 0).await;
        d.offer(trace("bad-1"), 0).await;
        assert_eq!(sink.0.lock().expect("lock").len(), 3);
        assert_eq!(d.stop(Duration::from_secs(1)).await, 0);
    }

    #[tokio::test]
    async fn an_undecodable_trace_is_reported_once() {
        let mut d = dispatcher(Arc::new(Sink::default()));
        let raw = r#"{"trace_id":"x","time":"yesterday"}"#;
        let error = serde_json::from_str::<Trace>(raw).expect_err("undecodable");
        let u = UndecodableTrace::new(0, raw, &error);
        d.undecodable(u.clone()).await;
        d.undecodable(u).await;
        assert_eq!(d.observer().0, [format!("undecodable {raw}")]);
    }
}
