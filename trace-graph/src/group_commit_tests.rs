//! Unit tests of the group commit against an in-memory store.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, PartialEq, Eq)]
enum TestError {
    Refused(String),
    Unreachable(String),
    TimedOut(String),
}

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A store double: records are trace ids.
#[derive(Debug)]
struct MemoryStore {
    written: Mutex<Vec<String>>,
    calls: Mutex<Vec<usize>>,
    poison: Mutex<HashSet<String>>,
    reject: Mutex<HashSet<String>>,
    fail: Mutex<Option<TestError>>,
    gate: Semaphore,
    delay: Mutex<Duration>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            written: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            poison: Mutex::new(HashSet::new()),
            reject: Mutex::new(HashSet::new()),
            fail: Mutex::new(None),
            gate: Semaphore::new(Semaphore::MAX_PERMITS),
            delay: Mutex::new(Duration::ZERO),
        }
    }
}

impl MemoryStore {
    fn closed() -> Self {
        MemoryStore {
            gate: Semaphore::new(0),
            ..MemoryStore::default()
        }
    }

    fn open(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    fn written_ids(&self) -> Vec<String> {
        self.written.lock().expect("lock").clone()
    }
}

impl BatchWrite for MemoryStore {
    type Record = String;
    type Error = TestError;

    async fn write_batch(&self, batch: &[String]) -> Result<Vec<(usize, String)>, TestError> {
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|e| TestError::Unreachable(e.to_string()))?;
        self.calls.lock().expect("lock").push(batch.len());
        let delay = *self.delay.lock().expect("lock");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(e) = self.fail.lock().expect("lock").clone() {
            return Err(e);
        }
        let poison = self.poison.lock().expect("lock").clone();
        if let Some(bad) = batch.iter().find(|id| poison.contains(*id)) {
            return Err(TestError::Refused(format!("poisoned trace {bad:?}")));
        }
        let reject = self.reject.lock().expect("lock").clone();
        let mut rejected = Vec::new();
        for (i, id) in batch.iter().enumerate() {
            if reject.contains(id) {
                rejected.push((i, format!("row {id} rejected")));
            } else {
                self.written.lock().expect("lock").push(id.clone());
            }
        }
        Ok(rejected)
    }

    fn should_split(&self, error: &TestError) -> bool {
        matches!(error, TestError::Refused(_))
    }

    fn timed_out(&self, limit: Duration) -> TestError {
        TestError::TimedOut(format!("over {limit:?}"))
    }
}

/// Counts what the observer hears.
#[derive(Debug, Default)]
struct Counts {
    stored: AtomicUsize,
    rejected: AtomicUsize,
    failed: AtomicUsize,
    duplicates: AtomicUsize,
    depth: AtomicUsize,
    errors: Mutex<Vec<TestError>>,
    timeouts: AtomicUsize,
    batches: Mutex<Vec<usize>>,
    failed_batches: Mutex<Vec<usize>>,
}

impl Observer<TestError> for Arc<Counts> {
    fn answered(&self, outcome: &Outcome<TestError>) {
        let counter = match outcome {
            Outcome::Stored => &self.stored,
            Outcome::Rejected(_) => &self.rejected,
            Outcome::Failed(_) => &self.failed,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
    fn coalesced(&self, duplicates: usize) {
        self.duplicates.fetch_add(duplicates, Ordering::SeqCst);
    }
    fn queue_depth(&self, depth: usize) {
        self.depth.store(depth, Ordering::SeqCst);
    }
    fn write_failed(&self, error: &TestError) {
        self.errors.lock().expect("lock").push(error.clone());
    }
    fn write_timed_out(&self, _limit: Duration) {
        self.timeouts.fetch_add(1, Ordering::SeqCst);
    }
    fn batch_failed(&self, _error: &TestError, records: usize) {
        self.failed_batches.lock().expect("lock").push(records);
    }
    fn batch_written(&self, records: usize, _elapsed: Duration) {
        self.batches.lock().expect("lock").push(records);
    }
}

type Commit = GroupCommit<Arc<MemoryStore>, String, Arc<Counts>>;

fn settings(max_events: usize, capacity: usize) -> GroupCommitSettings {
    GroupCommitSettings {
        max_events,
        max_delay: Duration::from_millis(20),
        busy_delay: Duration::ZERO,
        write_concurrency: 1,
        queue_capacity: capacity,
        write_timeout: Duration::from_secs(5),
    }
}

fn start(
    store: &Arc<MemoryStore>,
    s: GroupCommitSettings,
) -> (Commit, JoinHandle<()>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let (b, h) = GroupCommit::start(store.clone(), s, counts.clone()).expect("valid settings");
    (b, h, counts)
}

fn one(id: &str) -> Vec<(String, String)> {
    vec![(id.to_string(), id.to_string())]
}

fn many(ids: &[&str]) -> Vec<(String, String)> {
    ids.iter()
        .map(|id| (id.to_string(), id.to_string()))
        .collect()
}

async fn outcomes(tickets: Vec<Ticket<TestError>>) -> Vec<Outcome<TestError>> {
    let mut out = Vec::new();
    for t in tickets {
        out.push(t.await.expect("answered"));
    }
    out
}

#[tokio::test]
async fn records_from_many_callers_share_batches_up_to_the_size() {
    let store = Arc::new(MemoryStore::closed());
    let (b, _h, counts) = start(&store, settings(4, 100));
    let mut all = Vec::new();
    for i in 0..10 {
        all.extend(b.submit(one(&format!("t{i}"))).expect("queued"));
    }
    assert_eq!(b.depth(), 10);
    assert_eq!(counts.depth.load(Ordering::SeqCst), 10);
    store.open();
    assert!(outcomes(all).await.iter().all(|o| *o == Outcome::Stored));
    let calls = store.calls.lock().expect("lock").clone();
    assert!(calls.iter().all(|&n| n <= 4), "{calls:?}");
    assert_eq!(calls.iter().sum::<usize>(), 10);
    assert!(calls.len() < 10, "records were batched: {calls:?}");
    assert_eq!(b.depth(), 0);
    assert_eq!(counts.depth.load(Ordering::SeqCst), 0);
    assert_eq!(counts.stored.load(Ordering::SeqCst), 10);
    assert_eq!(*counts.batches.lock().expect("lock"), calls);
}

#[tokio::test]
async fn tickets_resolve_only_after_the_write() {
    let store = Arc::new(MemoryStore::closed());
    let (b, _h, _) = start(&store, settings(10, 100));
    let mut tickets = b.submit(one("a")).expect("queued");
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
    let (b, _h, counts) = start(&store, settings(10, 100));
    let first = b.submit(one("dup")).expect("queued");
    let second = b.submit(many(&["dup", "dup"])).expect("queued");
    assert_eq!(b.depth(), 1);
    store.open();
    assert_eq!(outcomes(first).await, vec![Outcome::Stored]);
    assert_eq!(
        outcomes(second).await,
        vec![Outcome::Stored, Outcome::Stored]
    );
    assert_eq!(store.written_ids(), vec!["dup"]);
    assert_eq!(counts.duplicates.load(Ordering::SeqCst), 2);
    assert_eq!(
        counts.stored.load(Ordering::SeqCst),
        1,
        "answered once per write"
    );
}

#[tokio::test]
async fn a_full_queue_refuses_whole_submissions() {
    let store = Arc::new(MemoryStore::closed());
    let (b, _h, _) = start(&store, settings(10, 3));
    let held = b.submit(many(&["a", "b"])).expect("queued");
    let err = b.submit(many(&["c", "d"])).expect_err("full");
    assert_eq!(
        err,
        SubmitError::QueueFull {
            depth: 2,
            needed: 2,
            capacity: 3
        }
    );
    assert!(err.to_string().contains("queue_capacity"), "{err}");
    // A duplicate of a record in flight needs no room.
    let dup = b.submit(one("a")).expect("coalesced");
    store.open();
    assert_eq!(outcomes(held).await.len(), 2);
    assert_eq!(outcomes(dup).await, vec![Outcome::Stored]);
    let mut ids = store.written_ids();
    ids.sort();
    assert_eq!(ids, vec!["a", "b"], "the refused submission wrote nothing");
}

#[tokio::test]
async fn a_poisoned_record_fails_alone() {
    let store = Arc::new(MemoryStore::closed());
    store.poison.lock().expect("lock").insert("bad".into());
    let (b, _h, counts) = start(&store, settings(10, 100));
    let ids = ["g1", "g2", "bad", "g3", "g4"];
    let tickets: Vec<_> = ids
        .iter()
        .flat_map(|id| b.submit(one(id)).expect("queued"))
        .collect();
    store.open();
    let results = outcomes(tickets).await;
    for (id, result) in ids.iter().zip(&results) {
        if *id == "bad" {
            assert!(
                matches!(result, Outcome::Failed(TestError::Refused(r)) if r.contains("poisoned")),
                "{result:?}"
            );
        } else {
            assert_eq!(*result, Outcome::Stored, "{id}");
        }
    }
    let mut written = store.written_ids();
    written.sort();
    assert_eq!(written, vec!["g1", "g2", "g3", "g4"]);
    assert_eq!(counts.failed.load(Ordering::SeqCst), 1);
    assert_eq!(
        *counts.failed_batches.lock().expect("lock"),
        vec![1],
        "only the isolated record is reported as a failed batch"
    );
    assert!(counts
        .errors
        .lock()
        .expect("lock")
        .iter()
        .all(|e| matches!(e, TestError::Refused(_))));
}

#[tokio::test]
async fn other_failures_fail_every_record_of_the_batch_without_splitting() {
    let store = Arc::new(MemoryStore::default());
    *store.fail.lock().expect("lock") = Some(TestError::Unreachable("refused".into()));
    let (b, _h, counts) = start(&store, settings(10, 100));
    let results = outcomes(b.submit(many(&["x", "y"])).expect("queued")).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Outcome::Failed(TestError::Unreachable(_)))),
        "{results:?}"
    );
    assert!(store.written_ids().is_empty());
    assert_eq!(*store.calls.lock().expect("lock"), vec![2], "not split");
    assert_eq!(counts.errors.lock().expect("lock").len(), 1);
    assert_eq!(*counts.failed_batches.lock().expect("lock"), vec![2]);
    assert_eq!(b.depth(), 0);
}

#[tokio::test]
async fn a_write_over_the_time_limit_fails_with_the_stores_timeout_error() {
    let store = Arc::new(MemoryStore::closed());
    let mut s = settings(10, 100);
    s.write_timeout = Duration::from_millis(50);
    let (b, _h, counts) = start(&store, s);
    let results = outcomes(b.submit(one("slow")).expect("queued")).await;
    assert!(
        matches!(&results[0], Outcome::Failed(TestError::TimedOut(m)) if m.contains("50ms")),
        "{results:?}"
    );
    assert_eq!(counts.timeouts.load(Ordering::SeqCst), 1);
    assert!(counts.errors.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn close_drains_the_queue_then_refuses() {
    let store = Arc::new(MemoryStore::closed());
    let (b, handle, _) = start(&store, settings(2, 100));
    let tickets = b.submit(many(&["1", "2", "3"])).expect("queued");
    b.close();
    assert_eq!(b.submit(one("4")).expect_err("closed"), SubmitError::Closed);
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
    let (b, _h, counts) = start(&store, settings(10, 100));
    let results = outcomes(b.submit(many(&["ok", "r"])).expect("queued")).await;
    assert_eq!(results[0], Outcome::Stored);
    assert!(
        matches!(&results[1], Outcome::Rejected(m) if m.contains("rejected")),
        "{results:?}"
    );
    assert_eq!(store.written_ids(), vec!["ok"]);
    assert_eq!(counts.rejected.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn hostile_keys_and_an_empty_submission_are_handled() {
    let store = Arc::new(MemoryStore::default());
    let (b, _h, counts) = start(&store, settings(10, 100));
    assert!(b.submit(Vec::new()).expect("empty is fine").is_empty());
    let long = "ü".repeat(100_000);
    let ids = ["", "日本語\u{0}\u{202e}", long.as_str()];
    let results = outcomes(b.submit(many(&ids)).expect("queued")).await;
    assert_eq!(results, vec![Outcome::Stored; 3]);
    assert_eq!(store.written_ids().len(), 3);
    assert_eq!(counts.duplicates.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn settings_out_of_bounds_are_refused_by_name() {
    let store = Arc::new(MemoryStore::default());
    for (mutate, name) in [
        (
            (|s: &mut GroupCommitSettings| s.write_concurrency = 0) as fn(&mut GroupCommitSettings),
            "write_concurrency",
        ),
        (|s| s.write_concurrency = 1_000_000, "write_concurrency"),
        (|s| s.max_events = 0, "max_events"),
        (|s| s.queue_capacity = 0, "queue_capacity"),
        (|s| s.write_timeout = Duration::ZERO, "write_timeout"),
    ] {
        let mut s = GroupCommitSettings::default();
        mutate(&mut s);
        let err = GroupCommit::<_, String>::start(store.clone(), s, ()).expect_err(name);
        assert!(
            matches!(&err, Error::Config { setting, .. } if *setting == name),
            "{err}"
        );
    }
    assert!(GroupCommitSettings::default().validate().is_ok());
}

#[tokio::test]
async fn a_stopped_dispatcher_refuses_submissions() {
    let store = Arc::new(MemoryStore::closed());
    let (b, handle, _) = start(&store, settings(10, 100));
    handle.abort();
    let _ = handle.await;
    // The dispatcher is gone: submissions are refused, never silently lost.
    assert_eq!(
        b.submit(one("late")).expect_err("closed"),
        SubmitError::Closed
    );
}

fn busy_settings(busy_delay: Duration, write_concurrency: usize) -> GroupCommitSettings {
    GroupCommitSettings {
        max_events: 500,
        max_delay: Duration::ZERO,
        busy_delay,
        write_concurrency,
        queue_capacity: 10_000,
        write_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn a_lone_record_is_committed_without_waiting_for_the_busy_delay() {
    let store = Arc::new(MemoryStore::default());
    let (b, _h, _) = start(&store, busy_settings(Duration::from_secs(30), 3));
    for round in 0..3 {
        let started = Instant::now();
        let tickets = b.submit(one(&format!("lone{round}"))).expect("queued");
        assert_eq!(outcomes(tickets).await, vec![Outcome::Stored]);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a lone record waited {:?}",
            started.elapsed()
        );
    }
    assert_eq!(*store.calls.lock().expect("lock"), vec![1, 1, 1]);
}

/// `senders` closed-loop senders (each waits for its answer and 0-11 ms more
/// before sending again) against a store whose writes take 20 ms; returns the
/// mean batch size the observer saw.
async fn mean_batch_under_load(busy_delay: Duration, senders: usize, rounds: usize) -> f64 {
    let store = Arc::new(MemoryStore::default());
    *store.delay.lock().expect("lock") = Duration::from_millis(20);
    let (b, _h, counts) = start(&store, busy_settings(busy_delay, 3));
    let mut tasks = Vec::new();
    for s in 0..senders {
        let b = b.clone();
        tasks.push(tokio::spawn(async move {
            for r in 0..rounds {
                // Answers reach senders at different times (network, HTTP): spread them.
                tokio::time::sleep(Duration::from_millis((s % 12) as u64)).await;
                let t = b.submit(one(&format!("s{s}r{r}"))).expect("queued");
                assert_eq!(outcomes(t).await, vec![Outcome::Stored]);
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    assert_eq!(store.written_ids().len(), senders * rounds);
    let batches = counts.batches.lock().expect("lock");
    batches.iter().sum::<usize>() as f64 / batches.len() as f64
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
