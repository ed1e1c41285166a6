//! `GroupCommit` over the real `GraphWriter`: concurrent callers, shared
//! transactions, duplicates in flight, a row Neo4j cannot take.

use crate::{db, synth};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use trace_graph::group_commit::{GroupCommit, GroupCommitSettings, Observer, Outcome};
use trace_graph::{Error, TraceContext, TraceRecord};

/// Counts batch writes.
struct Batches(Arc<AtomicUsize>);

impl Observer<Arc<Error>> for Batches {
    fn batch_written(&self, _records: usize, _elapsed: Duration) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_transactions_and_each_is_answered_after_commit() {
    let Some((writer, graph)) = db::writer("group_commit_over_graph_writer").await else {
        return;
    };
    let run = db::run_id("gc");
    let records = synth::traces(&run, 200);
    let batches = Arc::new(AtomicUsize::new(0));
    let settings = GroupCommitSettings {
        busy_delay: Duration::from_millis(20),
        ..GroupCommitSettings::default()
    };
    let (commit, task) =
        GroupCommit::start(Arc::new(writer), settings, Batches(batches.clone())).expect("start");
    let mut callers = Vec::new();
    for (i, record) in records.into_iter().enumerate() {
        let commit = commit.clone();
        let key = record.trace.trace_id.clone().expect("synthetic id");
        callers.push(tokio::spawn(async move {
            // Every tenth caller sends its trace twice in one request: written once.
            let mut submission = vec![(key.clone(), record.clone())];
            if i % 10 == 0 {
                submission.push((key, record));
            }
            let mut answers = Vec::new();
            for ticket in commit.submit(submission).expect("queued") {
                answers.push(ticket.await.expect("answered"));
            }
            answers
        }));
    }
    // A trace without an id cannot be stored: rejected alone, the rest committed.
    let bad = TraceRecord::new(
        cts_client::Trace::default(),
        TraceContext::new(&run, "eu-de"),
    );
    let bad_ticket = commit
        .submit(vec![("no-id".to_string(), bad)])
        .expect("queued")
        .remove(0);
    for caller in callers {
        for answer in caller.await.expect("caller") {
            assert!(matches!(answer, Outcome::Stored), "{answer:?}");
        }
    }
    let bad_answer = bad_ticket.await.expect("answered");
    assert!(
        matches!(&bad_answer, Outcome::Rejected(reason) if !reason.is_empty()),
        "{bad_answer:?}"
    );
    assert_eq!(db::counts(&graph, &run).await.0, 200, "every trace once");
    let n = batches.load(Ordering::SeqCst);
    assert!(n < 100, "201 callers shared transactions: {n} writes");
    commit.close();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("drained")
        .expect("no panic");
    db::cleanup(&graph, &run).await;
}
