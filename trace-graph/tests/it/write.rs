//! The writer against the real server: idempotency, concurrency,
//! constraints, and how connection failures are reported.

use crate::db::{self, rows};
use crate::{fixtures, synth};
use neo4rs::query;
use serde_json::json;
use trace_graph::{Error, GraphWriter, TraceRecord};

#[tokio::test]
async fn writing_again_changes_nothing() {
    let Some((writer, graph)) = db::writer("writing_again_changes_nothing").await else {
        return;
    };
    let run = db::run_id("id");
    let mut records: Vec<TraceRecord> = fixtures::all()
        .iter()
        .map(|f| db::isolate(f, &run))
        .collect();
    records.extend(synth::traces(&run, 300));
    writer.write(&records).await.expect("first write");
    let first = db::counts(&graph, &run).await;
    assert_eq!(first.0, 310, "10 fixtures + 300 synthetic actions");

    writer.write(&records).await.expect("second write");
    assert_eq!(db::counts(&graph, &run).await, first, "same input again");

    // Other batch boundaries and order: still the same graph.
    let mut small = db::config(&db::env("idempotency").expect("env"));
    small.batch_size = 7;
    small.write_concurrency = 4;
    let other = GraphWriter::connect(small).await.expect("connect");
    records.reverse();
    let report = other.write(&records).await.expect("third write");
    assert!(report.transactions >= 310 / 7);
    assert_eq!(
        db::counts(&graph, &run).await,
        first,
        "reversed, batches of 7, four in flight"
    );
    db::cleanup(&graph, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_concurrent_writers_with_overlapping_batches() {
    let Some((_, graph)) = db::writer("four_concurrent_writers_with_overlapping_batches").await
    else {
        return;
    };
    let env = db::env("concurrency").expect("env");
    let run = db::run_id("cc");
    let all = synth::traces(&run, 2000);
    let mut tasks = Vec::new();
    for k in 0..4usize {
        let mut cfg = db::config(&env);
        cfg.batch_size = 100;
        // Writer k takes 1000 traces starting at k*333: every trace is written by 1 to 3 writers.
        let mut mine: Vec<TraceRecord> = all.iter().skip(k * 333).take(1000).cloned().collect();
        if k % 2 == 1 {
            mine.reverse();
        }
        tasks.push(tokio::spawn(async move {
            let writer = GraphWriter::connect(cfg).await.expect("connect");
            writer.write(&mine).await
        }));
    }
    let mut retries = 0;
    for t in tasks {
        let report = t.await.expect("task").expect("no batch failed");
        assert!(report.rejected.is_empty());
        assert_eq!(report.written, 1000);
        retries += report.retries;
    }
    eprintln!("concurrent writers: {retries} transaction retries");
    let expected_actions = (3 * 333 + 1000) as i64;
    let (actions, _, _) = db::counts(&graph, &run).await;
    assert_eq!(actions, expected_actions);

    let one = |text: &'static str| query(text).param("run", run.as_str());
    let dup_rels = rows(
        &graph,
        one(
            "MATCH (a:Action)-[r]->(n) WHERE a.traceId STARTS WITH $run \
             WITH a, type(r) AS t, n, count(r) AS c WHERE c > 1 RETURN count(*) AS c",
        ),
    )
    .await;
    assert_eq!(dup_rels[0]["c"], json!(0), "no duplicate relationships");
    let per_action = rows(
        &graph,
        one("MATCH (a:Action) WHERE a.traceId STARTS WITH $run \
             RETURN min(COUNT { (a)-[:PERFORMED_BY]->() }) AS minp, max(COUNT { (a)-[:PERFORMED_BY]->() }) AS maxp, \
                    min(COUNT { (a)-[:WITH_STATUS]->() }) AS mins, max(COUNT { (a)-[:APPLIED_ON]->() }) AS maxa"),
    )
    .await;
    assert_eq!(
        per_action[0],
        json!({"minp": 1, "maxp": 1, "mins": 1, "maxa": 1})
    );
    let users = rows(
        &graph,
        one("MATCH (u:User) WHERE u.key STARTS WITH $run RETURN count(u) AS c"),
    )
    .await;
    // Six named users plus the system principals of the services that had system traces.
    let system = rows(
        &graph,
        one("MATCH (u:User {kind: 'system'}) WHERE u.key STARTS WITH $run RETURN count(u) AS c"),
    )
    .await;
    assert_eq!(
        users[0]["c"].as_i64().expect("c") - system[0]["c"].as_i64().expect("c"),
        synth::USERS as i64
    );
    let resources = rows(
        &graph,
        one("MATCH (r:Resource) WHERE r.key STARTS WITH $run RETURN count(r) AS c"),
    )
    .await;
    // Resource i is seen under service i % 4; 30 ids, each under 2 services (30 and 4 share the factor 2).
    assert_eq!(resources[0]["c"], json!(60));
    db::cleanup(&graph, &run).await;
}

#[tokio::test]
async fn every_node_key_has_a_uniqueness_constraint() {
    let Some((writer, graph)) = db::writer("every_node_key_has_a_uniqueness_constraint").await
    else {
        return;
    };
    writer
        .ensure_schema()
        .await
        .expect("second ensure_schema is a no-op");
    let got = rows(
        &graph,
        query("SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties RETURN name, type, labelsOrTypes[0] AS label, properties[0] AS property"),
    )
    .await;
    for (label, property) in [
        ("Action", "traceId"),
        ("User", "key"),
        ("Resource", "key"),
        ("Tenant", "projectId"),
        ("Region", "name"),
        ("Domain", "id"),
        ("Service", "name"),
        ("Status", "name"),
        ("IpAddress", "address"),
    ] {
        assert!(
            got.iter().any(|c| c["label"] == json!(label)
                && c["property"] == json!(property)
                && c["type"].as_str().is_some_and(|t| t.contains("UNIQUENESS"))),
            "no uniqueness constraint on {label}.{property}: {got:?}"
        );
    }
    let indexes = rows(
        &graph,
        query("SHOW INDEXES YIELD name, state RETURN name, state"),
    )
    .await;
    for name in trace_graph::schema::schema_names() {
        assert!(
            indexes
                .iter()
                .any(|i| i["name"] == json!(name) && i["state"] == json!("ONLINE"))
                || got.iter().any(|c| c["name"] == json!(name)),
            "schema object {name} missing or not online"
        );
    }
    // The constraint is enforced: a second Action with a taken trace id is refused.
    let run = db::run_id("uq");
    let rec = db::isolate(&fixtures::by_name("01_"), &run);
    writer
        .write(std::slice::from_ref(&rec))
        .await
        .expect("write");
    let dup = graph
        .run(
            query("CREATE (:Action {traceId: $id})")
                .param("id", rec.trace.trace_id.clone().expect("id")),
        )
        .await;
    let msg = format!("{:?}", dup.expect_err("duplicate refused"));
    assert!(msg.contains("ConstraintValidationFailed"), "{msg}");
    db::cleanup(&graph, &run).await;
}

#[tokio::test]
async fn refused_credentials_are_permanent_and_never_show_the_password() {
    let Some(env) = db::env("refused_credentials_are_permanent_and_never_show_the_password") else {
        return;
    };
    let mut cfg = db::config(&env);
    cfg.password = "wrong-password-s3cr3t".into();
    let err = GraphWriter::connect(cfg).await.expect_err("refused");
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(!err.is_transient());
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    let Some(env) = db::env("an_unreachable_server_is_transient") else {
        return;
    };
    let mut cfg = db::config(&env);
    cfg.uri = "bolt://127.0.0.1:9".into(); // discard port: nothing listens
    cfg.connect_timeout = std::time::Duration::from_secs(2);
    let err = GraphWriter::connect(cfg).await.expect_err("unreachable");
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn an_unknown_database_is_a_configuration_error() {
    let Some(env) = db::env("an_unknown_database_is_a_configuration_error") else {
        return;
    };
    let mut cfg = db::config(&env);
    cfg.database = Some("nosuchdatabase".into());
    let err = GraphWriter::connect(cfg)
        .await
        .expect_err("unknown database");
    assert!(
        matches!(
            err,
            Error::Config {
                setting: "database",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn ping_answers_while_the_server_is_up() {
    let Some((writer, _)) = db::writer("ping_answers_while_the_server_is_up").await else {
        return;
    };
    writer.ping().await.expect("ping");
    let shown = format!("{writer:?}");
    let env = db::env("ping").expect("env");
    assert!(shown.contains("GraphWriter"), "{shown}");
    if !env.password.is_empty() {
        assert!(
            !shown.contains(&env.password),
            "the password leaked into Debug: {shown}"
        );
    }
}

/// A real transient failure: the writer's transaction is terminated on the
/// server while it waits for a lock; the writer runs it again and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_transaction_is_run_again() {
    let Some((writer, graph)) = db::writer("a_terminated_transaction_is_run_again").await else {
        return;
    };
    let run = db::run_id("term");
    let trace = |n: u32, user_id: &str| {
        let t = json!({"trace_id": format!("{run}{n}"), "time": 1_717_000_000_000_i64,
                       "user": {"id": user_id, "name": "locked", "domain": {"id": format!("{run}dom")}}});
        TraceRecord::new(
            serde_json::from_value(t).expect("trace"),
            trace_graph::TraceContext::new(format!("{run}p"), "eu-de"),
        )
    };
    writer
        .write(&[trace(1, "id-1")])
        .await
        .expect("first write");
    let key = format!("{run}dom/name:locked");

    // Hold a write lock on the user, so the next write (a changed user id) must wait.
    let mut holder = graph.start_txn().await.expect("txn");
    holder
        .run(query("MATCH (u:User {key: $k}) SET u.heldByTest = true").param("k", key.as_str()))
        .await
        .expect("lock");
    let w = writer.clone();
    let second = trace(2, "id-2");
    let pending = tokio::spawn(async move { w.write(&[second]).await });

    // Find the writer's blocked transaction and terminate it.
    let mut terminated = false;
    for _ in 0..100 {
        let blocked = rows(
            &graph,
            query(
                "SHOW TRANSACTIONS YIELD transactionId, currentQuery, status, parameters \
                 WHERE currentQuery CONTAINS 'UNWIND $regions' AND status STARTS WITH 'Blocked' \
                 AND any(a IN parameters.actions WHERE a.key STARTS WITH $run) \
                 RETURN collect(transactionId) AS ids",
            )
            .param("run", run.as_str()),
        )
        .await;
        let ids = blocked[0]["ids"].clone();
        if ids.as_array().is_some_and(|a| !a.is_empty()) {
            let ids: Vec<String> = serde_json::from_value(ids).expect("ids");
            let outcome = rows(
                &graph,
                query("TERMINATE TRANSACTIONS $ids YIELD transactionId, message RETURN transactionId, message")
                    .param("ids", ids),
            )
            .await;
            terminated = outcome
                .iter()
                .any(|r| r["message"] == json!("Transaction terminated."));
            assert!(terminated, "TERMINATE TRANSACTIONS answered {outcome:?}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    holder.rollback().await.expect("release the lock");
    let report = pending.await.expect("task").expect("written after a retry");
    assert!(
        terminated,
        "the writer's transaction was never seen waiting"
    );
    assert_eq!(report.written, 1);
    assert!(report.retries >= 1, "{report:?}");
    let user = rows(
        &graph,
        query("MATCH (u:User {key: $k}) RETURN u.id AS id, u.heldByTest AS held")
            .param("k", key.as_str()),
    )
    .await;
    assert_eq!(user[0], json!({"id": "id-2", "held": null}));
    db::cleanup(&graph, &run).await;
}

#[tokio::test]
async fn a_project_name_is_kept_on_the_tenant_and_never_cleared_by_a_trace_without_one() {
    let Some((writer, graph)) = db::writer("a_project_name_is_kept_on_the_tenant").await else {
        return;
    };
    let run = db::run_id("pn");
    let mut records = synth::traces(&run, 4);
    let name = format!("eu-de_{run}-Müller-名前");
    records[1].context = records[1].context.clone().with_project_name(name.as_str());
    writer.write(&records).await.expect("write");
    let project = records[1].context.project_id.clone();
    let names = |graph: neo4rs::Graph, project: String| async move {
        rows(
            &graph,
            query("MATCH (t:Tenant {projectId: $p}) RETURN t.name AS name").param("p", project),
        )
        .await
    };
    assert_eq!(
        names(graph.clone(), project.clone()).await,
        vec![json!({"name": name})]
    );
    // The same project again from traces that do not know its name: the name stays.
    let again = synth::traces(&run, 8);
    writer.write(&again[4..]).await.expect("write again");
    assert_eq!(
        names(graph.clone(), project).await,
        vec![json!({"name": name})]
    );
    db::cleanup(&graph, &run).await;
}
