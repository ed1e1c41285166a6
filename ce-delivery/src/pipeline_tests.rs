use super::*;
use async_trait::async_trait;
use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Answers from a script per event id; the last answer repeats.
#[derive(Debug, Default)]
struct Scripted {
    script: Mutex<HashMap<String, VecDeque<Verdict>>>,
    attempts: Mutex<Vec<(String, Instant)>>,
    gate: Option<Arc<Semaphore>>,
    /// Answers to batches, in order; the last one repeats (none: Done).
    batch_script: Mutex<VecDeque<Verdict>>,
    /// The ids of every batch attempted, with its time.
    batches: Mutex<Vec<(Vec<String>, Instant)>>,
}

impl Scripted {
    fn with(entries: &[(&str, Vec<Verdict>)]) -> Scripted {
        let s = Scripted::default();
        for (id, v) in entries {
            s.script
                .lock()
                .expect("lock")
                .insert((*id).to_string(), v.iter().cloned().collect());
        }
        s
    }
    fn attempts_of(&self, id: &str) -> Vec<Instant> {
        self.attempts
            .lock()
            .expect("lock")
            .iter()
            .filter(|(i, _)| i == id)
            .map(|(_, t)| *t)
            .collect()
    }
}

#[async_trait]
impl Transport for Scripted {
    async fn attempt(&self, event: &Event) -> Verdict {
        if let Some(g) = &self.gate {
            g.acquire().await.expect("gate").forget();
        }
        let id = event.id().to_string();
        self.attempts
            .lock()
            .expect("lock")
            .push((id.clone(), Instant::now()));
        let mut script = self.script.lock().expect("lock");
        let q = script.entry(id).or_default();
        if q.len() > 1 {
            q.pop_front().unwrap_or(Verdict::Done)
        } else {
            q.front().cloned().unwrap_or(Verdict::Done)
        }
    }

    async fn attempt_batch(&self, events: &[Event]) -> Verdict {
        let ids = events.iter().map(|e| e.id().to_string()).collect();
        self.batches
            .lock()
            .expect("lock")
            .push((ids, Instant::now()));
        let mut q = self.batch_script.lock().expect("lock");
        if q.len() > 1 {
            q.pop_front().unwrap_or(Verdict::Done)
        } else {
            q.front().cloned().unwrap_or(Verdict::Done)
        }
    }
}

/// Counts what the pipeline reports.
#[derive(Debug, Default)]
struct Counting {
    retries: Arc<AtomicU64>,
    refused_batches: AtomicU64,
}

impl Observer for Counting {
    fn retrying(&self, _: &str, _: u32, _: Duration, _: &str) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    fn batch_refused(&self, _: usize, _: Option<u16>, _: &str) {
        self.refused_batches.fetch_add(1, Ordering::Relaxed);
    }
}

fn event(id: &str) -> Event {
    EventBuilderV10::new()
        .id(id)
        .source("test:/src")
        .ty("t")
        .build()
        .expect("event")
}

fn retry(after: Option<Duration>) -> Verdict {
    Verdict::Retry {
        after,
        reason: "sink answered 503".into(),
    }
}

fn pipeline(t: Arc<Scripted>, max: usize) -> (Pipeline, Arc<AtomicU64>) {
    let observer = Arc::new(Counting::default());
    let retries = Arc::clone(&observer.retries);
    let p = Pipeline::new(
        t,
        crate::retry::sink_retry(Duration::from_millis(100), Duration::from_secs(2)),
        max,
        Arc::new(|| 0.0),
    )
    .with_observer(observer);
    (p, retries)
}

fn batching(
    t: Arc<Scripted>,
    max: usize,
    events: usize,
    delay_ms: u64,
) -> (Pipeline, Arc<Counting>) {
    let observer = Arc::new(Counting::default());
    let p = Pipeline::new(
        t,
        crate::retry::sink_retry(Duration::from_millis(100), Duration::from_secs(2)),
        max,
        Arc::new(|| 0.0),
    )
    .with_observer(Arc::clone(&observer) as Arc<dyn Observer>)
    .with_batching(Some(Batching::new(events, Duration::from_millis(delay_ms))));
    (p, observer)
}

fn batch_ids(t: &Scripted) -> Vec<Vec<String>> {
    t.batches
        .lock()
        .expect("lock")
        .iter()
        .map(|(ids, _)| ids.clone())
        .collect()
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("e{i}")).collect()
}

#[tokio::test(start_paused = true)]
async fn retries_with_growing_backoff_until_acked() {
    let t = Arc::new(Scripted::with(&[(
        "a",
        vec![retry(None), retry(None), retry(None), Verdict::Done],
    )]));
    let (mut p, retries) = pipeline(Arc::clone(&t), 4);
    p.submit("a".into(), 1, event("a")).await;
    p.drain().await;
    let done = p.take_done();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].outcome, Outcome::Acked);
    assert_eq!(retries.load(Ordering::Relaxed), 3);
    let at = t.attempts_of("a");
    let gaps: Vec<u128> = at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert_eq!(gaps, vec![100, 200, 400]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured() {
    let t = Arc::new(Scripted::with(&[(
        "a",
        vec![retry(Some(Duration::from_secs(7))), Verdict::Done],
    )]));
    let (mut p, _) = pipeline(Arc::clone(&t), 4);
    p.submit("a".into(), 1, event("a")).await;
    p.drain().await;
    let at = t.attempts_of("a");
    assert_eq!((at[1] - at[0]).as_secs(), 7);
}

#[tokio::test(start_paused = true)]
async fn rejection_is_final_and_keeps_the_event() {
    let reject = Verdict::Reject {
        status: Some(400),
        reason: "sink answered 400".into(),
    };
    let t = Arc::new(Scripted::with(&[("bad", vec![reject])]));
    let (mut p, retries) = pipeline(Arc::clone(&t), 4);
    p.submit("bad".into(), 5, event("bad")).await;
    p.drain().await;
    let done = p.take_done();
    assert_eq!(t.attempts_of("bad").len(), 1, "a 400 is not retried");
    assert_eq!(retries.load(Ordering::Relaxed), 0);
    match &done[0].outcome {
        Outcome::Rejected { status, event, .. } => {
            assert_eq!(*status, Some(400));
            assert_eq!(event.id(), "bad");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn submit_waits_for_a_free_slot() {
    let gate = Arc::new(Semaphore::new(0));
    let t = Arc::new(Scripted {
        gate: Some(Arc::clone(&gate)),
        ..Scripted::default()
    });
    let (mut p, _) = pipeline(t, 2);
    p.submit("1".into(), 1, event("1")).await;
    p.submit("2".into(), 2, event("2")).await;
    assert_eq!(p.in_flight(), 2);
    let third = tokio::time::timeout(
        Duration::from_millis(200),
        p.submit("3".into(), 3, event("3")),
    )
    .await;
    assert!(third.is_err(), "a full pipeline must not accept more work");
    gate.add_permits(10);
    p.submit("3".into(), 3, event("3")).await;
    p.drain().await;
    let mut ids: Vec<String> = p.take_done().into_iter().map(|c| c.id).collect();
    ids.sort();
    assert_eq!(ids, vec!["1", "2", "3"]);
}

#[tokio::test(start_paused = true)]
async fn drain_within_abandons_stuck_deliveries() {
    let t = Arc::new(Scripted::with(&[
        ("down", vec![retry(None)]),
        ("ok", vec![Verdict::Done]),
    ]));
    let (mut p, _) = pipeline(t, 4);
    p.submit("down".into(), 1, event("down")).await;
    p.submit("ok".into(), 2, event("ok")).await;
    let abandoned = p.drain_within(Duration::from_secs(3)).await;
    assert_eq!(abandoned, 1);
    assert_eq!(p.in_flight(), 0);
    let done = p.take_done();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, "ok");
}

#[tokio::test(start_paused = true)]
async fn batches_are_cut_by_count_and_the_rest_sent_at_drain() {
    let t = Arc::new(Scripted::default());
    let (mut p, _) = batching(Arc::clone(&t), 4, 3, 60_000);
    for (i, id) in ids(8).into_iter().enumerate() {
        p.submit(id.clone(), i as i64, event(&id)).await;
    }
    assert_eq!(p.in_flight(), 8);
    p.drain().await;
    assert_eq!(
        batch_ids(&t),
        vec![
            vec!["e0", "e1", "e2"],
            vec!["e3", "e4", "e5"],
            vec!["e6", "e7"]
        ]
    );
    assert!(
        t.attempts_of("e0").is_empty(),
        "acknowledged with its batch"
    );
    let done = p.take_done();
    assert_eq!(done.len(), 8);
    assert!(done.iter().all(|c| c.outcome == Outcome::Acked));
    let mut times: Vec<i64> = done.iter().map(|c| c.time_ms).collect();
    times.sort();
    assert_eq!(
        times,
        (0..8).collect::<Vec<i64>>(),
        "each caller key comes back"
    );
    assert_eq!(p.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_batch_leaves_when_its_first_event_has_waited_max_delay() {
    let t = Arc::new(Scripted::default());
    let (mut p, _) = batching(Arc::clone(&t), 4, 100, 250);
    let start = Instant::now();
    p.submit("a".into(), 1, event("a")).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    p.submit("b".into(), 2, event("b")).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    // No drain: the timer alone sent it.
    let done = p.take_done();
    assert_eq!(done.len(), 2);
    let sent = t.batches.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, vec!["a", "b"]);
    assert_eq!((sent[0].1 - start).as_millis(), 250);
    // A later event opens a new batch.
    p.submit("c".into(), 3, event("c")).await;
    p.submit("d".into(), 4, event("d")).await;
    p.drain().await;
    assert_eq!(batch_ids(&t)[1], vec!["c", "d"]);
}

#[tokio::test(start_paused = true)]
async fn a_batch_is_retried_as_a_whole_until_acknowledged() {
    let t = Arc::new(Scripted::default());
    *t.batch_script.lock().expect("lock") = VecDeque::from(vec![
        retry(None),
        retry(Some(Duration::from_secs(5))),
        Verdict::Done,
    ]);
    let (mut p, observer) = batching(Arc::clone(&t), 4, 10, 1000);
    for id in ids(10) {
        p.submit(id.clone(), 0, event(&id)).await;
    }
    p.drain().await;
    let sent = t.batches.lock().expect("lock").clone();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|(ids, _)| ids.len() == 10));
    assert_eq!((sent[1].1 - sent[0].1).as_millis(), 100);
    assert_eq!((sent[2].1 - sent[1].1).as_secs(), 5, "Retry-After honoured");
    assert_eq!(observer.retries.load(Ordering::Relaxed), 2);
    let done = p.take_done();
    assert_eq!(done.len(), 10);
    assert!(done.iter().all(|c| c.outcome == Outcome::Acked));
}

#[tokio::test(start_paused = true)]
async fn a_refused_batch_is_sent_one_by_one_so_only_the_poison_event_is_rejected() {
    let t = Arc::new(Scripted::with(&[(
        "e2",
        vec![Verdict::Reject {
            status: Some(400),
            reason: "sink answered 400".into(),
        }],
    )]));
    *t.batch_script.lock().expect("lock") = VecDeque::from(vec![Verdict::Reject {
        status: Some(400),
        reason: "sink answered 400: 1 of 5 events can never be stored".into(),
    }]);
    let (mut p, observer) = batching(Arc::clone(&t), 4, 5, 1000);
    for id in ids(5) {
        p.submit(id.clone(), 0, event(&id)).await;
    }
    p.drain().await;
    assert_eq!(
        batch_ids(&t).len(),
        1,
        "a refused batch is not retried as a batch"
    );
    assert_eq!(observer.refused_batches.load(Ordering::Relaxed), 1);
    for id in ids(5) {
        assert_eq!(t.attempts_of(&id).len(), 1, "{id} sent alone once");
    }
    let done = p.take_done();
    assert_eq!(done.len(), 5);
    for c in &done {
        match (&c.outcome, c.id.as_str()) {
            (Outcome::Rejected { status, event, .. }, "e2") => {
                assert_eq!(*status, Some(400));
                assert_eq!(event.id(), "e2");
            }
            (Outcome::Acked, id) if id != "e2" => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_transport_without_batches_gets_single_events() {
    #[derive(Debug)]
    struct OneAtATime(Arc<Scripted>);
    #[async_trait]
    impl Transport for OneAtATime {
        async fn attempt(&self, event: &Event) -> Verdict {
            self.0.attempt(event).await
        }
    }
    let t = Arc::new(Scripted::default());
    let observer = Arc::new(Counting::default());
    let mut p = Pipeline::new(
        Arc::new(OneAtATime(Arc::clone(&t))),
        crate::retry::sink_retry(Duration::from_millis(100), Duration::from_secs(2)),
        2,
        Arc::new(|| 0.0),
    )
    .with_observer(Arc::clone(&observer) as Arc<dyn Observer>)
    .with_batching(Some(Batching::new(3, Duration::from_millis(10))));
    for id in ids(3) {
        p.submit(id.clone(), 0, event(&id)).await;
    }
    p.drain().await;
    assert_eq!(p.take_done().len(), 3);
    for id in ids(3) {
        assert_eq!(t.attempts_of(&id).len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn drain_within_counts_abandoned_events_of_a_stuck_batch() {
    let t = Arc::new(Scripted::default());
    *t.batch_script.lock().expect("lock") = VecDeque::from(vec![retry(None)]);
    let (mut p, _) = batching(Arc::clone(&t), 4, 3, 10);
    for id in ids(4) {
        p.submit(id.clone(), 0, event(&id)).await;
    }
    // e3 waits alone in the open batch; the 3-event batch keeps failing.
    let abandoned = p.drain_within(Duration::from_secs(3)).await;
    assert_eq!(abandoned, 3);
    assert_eq!(p.in_flight(), 0);
    let done = p.take_done();
    assert_eq!(done.len(), 1, "e3 was sent alone and acknowledged");
    assert_eq!(done[0].id, "e3");
}
