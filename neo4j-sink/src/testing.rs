//! An in-memory [`Store`] for unit tests of the HTTP layer and the batcher.
//!
//! It is compiled only for unit tests: integration tests use the real Neo4j.
//! It records what was written, can hold writes until released (to observe
//! what is in flight), and can fail in each of the store's error classes.

use crate::event::{EventKey, SinkEvent};
use crate::store::{BatchReport, Store, StoreError, TraceContext, TraceRecord};
use async_trait::async_trait;
use cts_client::Trace;
use std::collections::HashSet;
use std::sync::Mutex;
use tokio::sync::Semaphore;

/// A store double.
#[derive(Debug)]
pub struct MemoryStore {
    /// Every committed record, in commit order.
    pub written: Mutex<Vec<TraceRecord>>,
    /// Sizes of the write calls, including failed ones.
    pub calls: Mutex<Vec<usize>>,
    /// Trace ids whose presence makes Neo4j refuse the whole batch.
    pub poison: Mutex<HashSet<String>>,
    /// Trace ids reported as rejected rows (the rest of the batch is written).
    pub reject: Mutex<HashSet<String>>,
    /// The error every write and prepare returns, while set.
    pub fail: Mutex<Option<StoreError>>,
    /// Writes wait for a permit here; starts open.
    pub gate: Semaphore,
    /// How long each write takes (after the gate), to model Neo4j's work.
    pub delay: Mutex<std::time::Duration>,
    /// Calls of `warm_up`, and whether the store had been prepared at each.
    pub warm_ups: Mutex<Vec<bool>>,
    prepared: std::sync::atomic::AtomicBool,
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
            delay: Mutex::new(std::time::Duration::ZERO),
            warm_ups: Mutex::new(Vec::new()),
            prepared: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl MemoryStore {
    /// A store whose writes wait until [`MemoryStore::open`] is called.
    pub fn closed() -> Self {
        MemoryStore {
            gate: Semaphore::new(0),
            ..MemoryStore::default()
        }
    }

    /// Lets writes through.
    pub fn open(&self) {
        self.gate.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Trace ids written so far.
    pub fn written_ids(&self) -> Vec<String> {
        self.written
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|r| r.trace.trace_id.clone())
            .collect()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        match self.fail.lock().expect("lock").clone() {
            Some(e) => Err(e),
            None => {
                self.prepared
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        }
    }

    async fn warm_up(&self) -> Result<(), StoreError> {
        let prepared = self.prepared.load(std::sync::atomic::Ordering::SeqCst);
        self.warm_ups.lock().expect("lock").push(prepared);
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        match self.fail.lock().expect("lock").clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn write(&self, batch: &[TraceRecord]) -> Result<BatchReport, StoreError> {
        let _permit = self
            .gate
            .acquire()
            .await
            .map_err(|e| StoreError::Permanent(e.to_string()))?;
        self.calls.lock().expect("lock").push(batch.len());
        let delay = *self.delay.lock().expect("lock");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(e) = self.fail.lock().expect("lock").clone() {
            return Err(e);
        }
        let poison = self.poison.lock().expect("lock").clone();
        if let Some(bad) = batch
            .iter()
            .find(|r| r.trace.id().is_some_and(|id| poison.contains(id)))
        {
            return Err(StoreError::Refused(format!(
                "poisoned trace {:?}",
                bad.trace.id()
            )));
        }
        let reject = self.reject.lock().expect("lock").clone();
        let mut report = BatchReport::default();
        for (i, record) in batch.iter().enumerate() {
            match record.trace.id() {
                Some(id) if reject.contains(id) => {
                    report.rejected.push((i, format!("row {id} rejected")))
                }
                _ => self.written.lock().expect("lock").push(record.clone()),
            }
        }
        Ok(report)
    }
}

/// A valid event for trace `id` in project `p1`.
pub fn sink_event(id: &str) -> SinkEvent {
    let source = "https://cts.example/v3/p1".to_string();
    let context = TraceContext::new("p1", "eu-de");
    let trace = Trace {
        trace_id: Some(id.into()),
        time: Some(1_700_000_000_000),
        ..Trace::default()
    };
    SinkEvent {
        key: EventKey {
            source,
            id: id.into(),
            trace_id: id.into(),
        },
        record: TraceRecord::new(trace, context),
        derived: Vec::new(),
    }
}
