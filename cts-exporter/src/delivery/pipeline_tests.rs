use super::*;
use async_trait::async_trait;
use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Answers from a script per event id; the last answer repeats.
#[derive(Debug, Default)]
struct Scripted {
    script: Mutex<HashMap<String, VecDeque<Verdict>>>,
    attempts: Mutex<Vec<(String, Instant)>>,
    gate: Option<Arc<Semaphore>>,
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
    let retries = Arc::new(AtomicU64::new(0));
    let p = Pipeline::new(
        t,
        crate::delivery::retry::sink_retry(Duration::from_millis(100), Duration::from_secs(2)),
        max,
        Arc::new(|| 0.0),
        Arc::clone(&retries),
    );
    (p, retries)
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
