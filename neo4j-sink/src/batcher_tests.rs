//! Unit tests of the sink's group-commit wiring (its Store, its settings, its Prometheus metrics)
//! against the in-memory store; the mechanism's own tests are in trace-graph (group_commit_tests.rs).

use super::*;
use crate::testing::{sink_event, MemoryStore};
use std::time::Instant;

fn settings(max_events: usize, capacity: usize) -> BatchSettings {
    BatchSettings {
        max_events,
        max_delay: Duration::from_millis(20),
        busy_delay: Duration::ZERO,
        write_concurrency: 1,
        queue_capacity: capacity,
        write_timeout: Duration::from_secs(5),
    }
}

fn start(store: &Arc<MemoryStore>, s: BatchSettings) -> (Batcher, JoinHandle<()>, Metrics) {
    let metrics = Metrics::new().expect("metrics");
    let (b, h) = Batcher::start(store.clone(), s, metrics.clone()).expect("valid settings");
    (b, h, metrics)
}

async fn outcomes(tickets: Vec<Ticket>) -> Vec<Outcome> {
    let mut out = Vec::new();
    for t in tickets {
        out.push(t.await.expect("answered"));
    }
    out
}

#[tokio::test]
async fn events_from_many_requests_share_batches_up_to_the_size() {
    let store = Arc::new(MemoryStore::closed());
    let (b, _h, metrics) = start(&store, settings(4, 100));
    let mut all = Vec::new();
    for i in 0..10 {
        all.extend(
            b.submit(vec![sink_event(&format!("t{i}"))])
                .expect("queued"),
        );
    }
    assert_eq!(b.depth(), 10);
    store.open();
    assert!(outcomes(all).await.iter().all(|o| *o == Outcome::Stored));
    let calls = store.calls.lock().expect("lock").clone();
    assert!(calls.iter().all(|&n| n <= 4), "{calls:?}");
    assert_eq!(calls.iter().sum::<usize>(), 10);
    assert!(calls.len() < 10, "events were batched: {calls:?}");
    assert_eq!(b.depth(), 0);
    assert_eq!(
        metrics.events.with_label_values(&[outcome::STORED]).get(),
        10
    );
}

#[tokio::test]
async fn tickets_resolve_only_after_the_write() {
    let store = Arc::new(MemoryStore::closed());
    let (b, _h, _) = start(&store, settings(10, 100));
    let mut tickets = b.submit(vec![sink_event("a")]).expect("queued");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        tickets[0].try_recv().is_err(),
        "must not resolve before commit"
    );
    store.open();
    assert_eq!(outcomes(tickets).await, vec![Outcome::Stored]);
    assert_eq!(store.written_ids(), vec!["a"]);
}

#[tokio::test]
async fn duplicates_in_flight_are_written_once() {
    let store = Arc::new(MemoryStore::closed());
    let (b, _h, metrics) = start(&store, settings(10, 100));
    let first = b.submit(vec![sink_event("dup")]).expect("queued");
    let second = b
        .submit(vec![sink_event("dup"), sink_event("dup")])
        .expect("queued");
    assert_eq!(b.depth(), 1);
    store.open();
    assert_eq!(outcomes(first).await, vec![Outcome::Stored]);
    assert_eq!(
        outcomes(second).await,
        vec![Outcome::Stored, Outcome::Stored]
    );
    assert_eq!(store.written_ids(), vec!["dup"]);
    assert_eq!(
        metrics
            .events
            .with_label_values(&[outcome::DUPLICATE])
            .get(),
        2
    );
}

#[tokio::test]
async fn a_full_queue_refuses_whole_requests() {
    let store = Arc::new(MemoryStore::closed());
    let (b, _h, _) = start(&store, settings(10, 3));
    let held = b
        .submit(vec![sink_event("a"), sink_event("b")])
        .expect("queued");
    let err = b
        .submit(vec![sink_event("c"), sink_event("d")])
        .expect_err("full");
    assert_eq!(
        err,
        SubmitError::QueueFull {
            depth: 2,
            needed: 2,
            capacity: 3
        }
    );
    // A duplicate of an event in flight needs no room.
    let dup = b.submit(vec![sink_event("a")]).expect("coalesced");
    store.open();
    assert_eq!(outcomes(held).await.len(), 2);
    assert_eq!(outcomes(dup).await, vec![Outcome::Stored]);
    let mut ids = store.written_ids();
    ids.sort();
    assert_eq!(ids, vec!["a", "b"], "the refused request wrote nothing");
}

#[tokio::test]
async fn a_poisoned_event_fails_alone() {
    let store = Arc::new(MemoryStore::closed());
    store.poison.lock().expect("lock").insert("bad".into());
    let (b, _h, _) = start(&store, settings(10, 100));
    let ids = ["g1", "g2", "bad", "g3", "g4"];
    let tickets: Vec<_> = ids
        .iter()
        .flat_map(|id| b.submit(vec![sink_event(id)]).expect("queued"))
        .collect();
    store.open();
    let results = outcomes(tickets).await;
    for (id, result) in ids.iter().zip(&results) {
        if *id == "bad" {
            assert!(
                matches!(result, Outcome::Failed(StoreError::Refused(r)) if r.contains("poisoned")),
                "{result:?}"
            );
        } else {
            assert_eq!(*result, Outcome::Stored, "{id}");
        }
    }
    let mut written = store.written_ids();
    written.sort();
    assert_eq!(written, vec!["g1", "g2", "g3", "g4"]);
}

#[tokio::test]
async fn transient_failures_fail_every_event_of_the_batch() {
    let store = Arc::new(MemoryStore::default());
    *store.fail.lock().expect("lock") = Some(StoreError::Unreachable("refused".into()));
    let (b, _h, metrics) = start(&store, settings(10, 100));
    let results = outcomes(
        b.submit(vec![sink_event("x"), sink_event("y")])
            .expect("queued"),
    )
    .await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Outcome::Failed(StoreError::Unreachable(_)))),
        "{results:?}"
    );
    assert!(store.written_ids().is_empty());
    assert_eq!(
        metrics
            .neo4j_errors
            .with_label_values(&["unreachable"])
            .get(),
        1
    );
    assert_eq!(b.depth(), 0);
}

#[tokio::test]
async fn a_write_over_the_time_limit_is_a_transient_failure() {
    let store = Arc::new(MemoryStore::closed());
    let mut s = settings(10, 100);
    s.write_timeout = Duration::from_millis(50);
    let (b, _h, metrics) = start(&store, s);
    let results = outcomes(b.submit(vec![sink_event("slow")]).expect("queued")).await;
    assert!(
        matches!(&results[0], Outcome::Failed(StoreError::Transient(m)) if m.contains("WRITE_TIMEOUT_SECS")),
        "{results:?}"
    );
    assert_eq!(
        metrics.neo4j_errors.with_label_values(&["timeout"]).get(),
        1
    );
}

#[tokio::test]
async fn close_drains_the_queue_then_refuses() {
    let store = Arc::new(MemoryStore::closed());
    let (b, handle, _) = start(&store, settings(2, 100));
    let tickets = b
        .submit(vec![sink_event("1"), sink_event("2"), sink_event("3")])
        .expect("queued");
    b.close();
    assert_eq!(
        b.submit(vec![sink_event("4")]).expect_err("closed"),
        SubmitError::Closed
    );
    store.open();
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("drained in time")
        .expect("no panic");
    assert_eq!(outcomes(tickets).await, vec![Outcome::Stored; 3]);
    assert_eq!(store.written_ids().len(), 3);
}

#[tokio::test]
async fn rows_the_store_rejects_are_rejected_alone() {
    let store = Arc::new(MemoryStore::default());
    store.reject.lock().expect("lock").insert("r".into());
    let (b, _h, metrics) = start(&store, settings(10, 100));
    let results = outcomes(
        b.submit(vec![sink_event("ok"), sink_event("r")])
            .expect("queued"),
    )
    .await;
    assert_eq!(results[0], Outcome::Stored);
    assert!(
        matches!(&results[1], Outcome::Rejected(m) if m.contains("rejected")),
        "{results:?}"
    );
    assert_eq!(store.written_ids(), vec!["ok"]);
    assert_eq!(
        metrics.events.with_label_values(&[outcome::REJECTED]).get(),
        1
    );
}

fn busy_settings(busy_delay: Duration, write_concurrency: usize) -> BatchSettings {
    BatchSettings {
        max_events: 500,
        max_delay: Duration::ZERO,
        busy_delay,
        write_concurrency,
        queue_capacity: 10_000,
        write_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_lone_event_is_committed_without_waiting_for_the_busy_delay() {
    let store = Arc::new(MemoryStore::default());
    let (b, _h, _) = start(&store, busy_settings(Duration::from_secs(30), 3));
    for round in 0..3 {
        let started = Instant::now();
        let tickets = b
            .submit(vec![sink_event(&format!("lone{round}"))])
            .expect("queued");
        assert_eq!(outcomes(tickets).await, vec![Outcome::Stored]);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a lone event waited {:?}",
            started.elapsed()
        );
    }
    assert_eq!(*store.calls.lock().expect("lock"), vec![1, 1, 1]);
}

/// `senders` closed-loop senders (each waits for its answer and 0-11 ms more
/// before sending again) against a store whose writes take 20 ms; returns the mean batch
/// size seen by the `neo4j_sink_batch_size` histogram.
async fn mean_batch_under_load(busy_delay: Duration, senders: usize, rounds: usize) -> f64 {
    let store = Arc::new(MemoryStore::default());
    *store.delay.lock().expect("lock") = Duration::from_millis(20);
    let (b, _h, metrics) = start(&store, busy_settings(busy_delay, 3));
    let mut tasks = Vec::new();
    for s in 0..senders {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            for r in 0..rounds {
                // Answers reach senders at different times (network, HTTP): spread them.
                tokio::time::sleep(Duration::from_millis((s % 12) as u64)).await;
                let t = b
                    .submit(vec![sink_event(&format!("s{s}r{r}"))])
                    .expect("queued");
                assert_eq!(outcomes(t).await, vec![Outcome::Stored]);
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    assert_eq!(store.written_ids().len(), senders * rounds);
    let h = &metrics.batch_size;
    h.get_sample_sum() / h.get_sample_count() as f64
}

#[tokio::test]
async fn under_a_deep_queue_batches_grow() {
    let without = mean_batch_under_load(Duration::ZERO, 48, 20).await;
    let with = mean_batch_under_load(Duration::from_millis(200), 48, 20).await;
    assert!(
        with >= 1.4 * without,
        "mean batch {with:.1} with the busy delay, {without:.1} without"
    );
    // Two batches alternate: one written, the other filling with the answered senders.
    assert!(with >= 20.0, "mean batch {with:.1} of 48 senders");
}
