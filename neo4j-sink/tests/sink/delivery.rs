//! Happy paths against the real Neo4j: every content mode, commit before
//! 202, duplicates stored once, and the metrics after real traffic.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn each_content_mode_is_readable_in_neo4j_when_202_arrives() {
    let Some(env) = env("each_content_mode_is_readable_in_neo4j_when_202_arrives") else {
        return;
    };
    // A long batch delay: an acknowledgement sent before the commit would be
    // caught by the read right after it.
    let sink = TestSink::ready(&env, &["--batch-max-delay-ms=300"]).await;
    let graph = graph(&env);
    let run = run_id();

    let id = format!("{run}-binary");
    let r = sink
        .binary(&event(&id, &run))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    assert_eq!(
        actions(&graph, &id).await,
        1,
        "binary event readable when 202 arrives"
    );
    assert_eq!(
        project_of(&graph, &id).await.as_deref(),
        Some(format!("proj-{run}").as_str())
    );

    let id = format!("{run}-structured");
    let r = sink
        .post_json("application/cloudevents+json", &event(&id, &run))
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        actions(&graph, &id).await,
        1,
        "structured event readable when 202 arrives"
    );

    let ids: Vec<String> = (0..5).map(|i| format!("{run}-batch-{i}")).collect();
    let batch: Vec<_> = ids.iter().map(|id| event(id, &run)).collect();
    let r = sink
        .post_json("application/cloudevents-batch+json", &json!(batch))
        .await;
    assert_eq!(r.status(), 202);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json"),
        json!({"stored": 5})
    );
    for id in &ids {
        assert_eq!(
            actions(&graph, id).await,
            1,
            "{id} readable when 202 arrives"
        );
    }
    assert_eq!(sink.stop().await, neo4j_sink::Shutdown::Drained);
}

#[tokio::test]
async fn duplicate_deliveries_are_stored_once() {
    let Some(env) = env("duplicate_deliveries_are_stored_once") else {
        return;
    };
    let sink = TestSink::ready(&env, &["--batch-max-delay-ms=200"]).await;
    let graph = graph(&env);
    let run = run_id();
    let id = format!("{run}-dup");
    let ev = event(&id, &run);
    // Five deliveries in flight at once (binary and structured mixed) ...
    let mut pending = Vec::new();
    for i in 0..5 {
        let req = if i % 2 == 0 {
            sink.binary(&ev)
        } else {
            sink.http
                .post(&sink.base)
                .header("content-type", "application/cloudevents+json")
                .body(serde_json::to_vec(&ev).expect("json"))
        };
        pending.push(tokio::spawn(async move {
            req.send().await.expect("request").status()
        }));
    }
    for p in pending {
        assert_eq!(p.await.expect("joined"), 202);
    }
    // ... and a redelivery after the commit.
    assert_eq!(
        sink.binary(&ev).send().await.expect("request").status(),
        202
    );
    assert_eq!(actions(&graph, &id).await, 1);
    let metrics = sink.metrics().await;
    assert!(
        sample(&metrics, "neo4j_sink_events_total{outcome=\"duplicate\"}") >= 1.0,
        "in-flight duplicates were coalesced:\n{metrics}"
    );
    sink.stop().await;
}

#[tokio::test]
async fn concurrent_requests_share_transactions_and_metrics_tell() {
    let Some(env) = env("concurrent_requests_share_transactions_and_metrics_tell") else {
        return;
    };
    let sink = TestSink::ready(&env, &["--batch-max-delay-ms=50", "--write-concurrency=1"]).await;
    let graph = graph(&env);
    let run = run_id();
    let ids: Vec<String> = (0..40).map(|i| format!("{run}-c{i}")).collect();
    let mut pending = Vec::new();
    for id in &ids {
        let req = sink.binary(&event(id, &run));
        pending.push(tokio::spawn(async move {
            req.send().await.expect("request").status()
        }));
    }
    for p in pending {
        assert_eq!(p.await.expect("joined"), 202);
    }
    for id in &ids {
        assert_eq!(actions(&graph, id).await, 1, "{id}");
    }
    let m = sink.metrics().await;
    assert_eq!(
        sample(&m, "neo4j_sink_events_total{outcome=\"stored\"}"),
        40.0,
        "{m}"
    );
    assert_eq!(
        sample(&m, "neo4j_sink_requests_total{code=\"202\"}"),
        40.0,
        "{m}"
    );
    assert_eq!(sample(&m, "neo4j_sink_batch_size_sum"), 40.0, "{m}");
    let batches = sample(&m, "neo4j_sink_batch_size_count");
    assert!(
        (1.0..40.0).contains(&batches),
        "40 events in fewer transactions, got {batches}:\n{m}"
    );
    assert!(
        sample(&m, "neo4j_sink_write_duration_seconds_count") >= 1.0,
        "{m}"
    );
    assert_eq!(sample(&m, "neo4j_sink_queue_depth"), 0.0, "{m}");
    assert_eq!(sample(&m, "neo4j_sink_ready"), 1.0, "{m}");
    assert_eq!(
        sample(&m, "neo4j_sink_neo4j_errors_total{kind=\"transient\"}"),
        0.0,
        "{m}"
    );
    sink.stop().await;
}
