//! The writer against the real server: read-back, idempotency, concurrency,
//! constraints, Cypher injection, and how connection failures are reported.

use crate::db::{self, rows, strip_nulls};
use crate::{fixtures, synth};
use neo4rs::query;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use trace_graph::{map_trace, Error, GraphRow, GraphWriter, RowError, TraceRecord};

/// The relationships an action should have, as (type, target key).
fn expected_rels(row: &GraphRow) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    out.insert(("PERFORMED_BY".into(), row.user.key.clone()));
    out.insert(("WITH_STATUS".into(), row.status.clone()));
    if let Some(s) = &row.service {
        out.insert(("ON_SERVICE".into(), s.clone()));
    }
    if let Some(r) = &row.resource {
        out.insert(("APPLIED_ON".into(), r.key.clone()));
    }
    if let Some(ip) = &row.source_ip {
        out.insert(("FROM_IP".into(), ip.clone()));
    }
    if let Some(a) = &row.assumed_by {
        out.insert(("ASSUMED_BY".into(), a.key.clone()));
    }
    out
}

fn as_pairs(v: &Value) -> BTreeSet<(String, String)> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|p| {
            (
                p[0].as_str().expect("type").to_owned(),
                p[1].as_str().expect("key").to_owned(),
            )
        })
        .collect()
}

/// What a node written several times should hold: the rows' properties
/// folded in order, a later present value winning (what `SET +=` does).
fn folded<'a, T: serde::Serialize + 'a>(nodes: impl Iterator<Item = &'a T>) -> Value {
    let mut out = serde_json::Map::new();
    for n in nodes {
        if let Value::Object(m) = serde_json::to_value(n).expect("json") {
            out.extend(m);
        }
    }
    Value::Object(out)
}

fn ids<'a>(v: impl Iterator<Item = &'a Option<String>>) -> BTreeSet<String> {
    v.flatten().cloned().collect()
}

fn as_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|x| x.as_str().expect("str").to_owned())
        .collect()
}

/// Reads the action of `all[i]`, its links and its linked nodes back and
/// compares them with what `map_trace` says should be stored.
async fn assert_stored(graph: &neo4rs::Graph, all: &[GraphRow], i: usize) {
    let row = &all[i];
    let id = &row.action.trace_id;
    let got = rows(
        graph,
        query(
            "MATCH (a:Action {traceId: $id}) \
             RETURN a {.*, time: null, recordTime: null} AS props, \
                    a.time = datetime({epochMillis: a.timeMs}) AS timeOk, \
                    CASE WHEN a.recordTimeMs IS NULL THEN a.recordTime IS NULL \
                         ELSE a.recordTime = datetime({epochMillis: a.recordTimeMs}) END AS recordTimeOk, \
                    [(a)-[r]->(n) | [type(r), coalesce(n.key, n.name, n.address)]] AS rels",
        )
        .param("id", id.as_str()),
    )
    .await;
    assert_eq!(got.len(), 1, "{id}: exactly one Action");
    let got = &got[0];
    let same_trace = || all.iter().filter(|r| r.action.trace_id == *id);
    assert_eq!(
        strip_nulls(got["props"].clone()),
        folded(same_trace().map(|r| &r.action)),
        "{id}: action properties"
    );
    assert_eq!(
        got["timeOk"],
        json!(true),
        "{id}: time is the DATETIME of timeMs"
    );
    assert_eq!(got["recordTimeOk"], json!(true), "{id}: recordTime");
    let rels: BTreeSet<_> = same_trace().flat_map(expected_rels).collect();
    assert_eq!(as_pairs(&got["rels"]), rels, "{id}: relationships");

    let users_of = |r: &'_ GraphRow| -> Vec<trace_graph::model::UserNode> {
        std::iter::once(r.user.clone())
            .chain(r.assumed_by.clone())
            .collect()
    };
    for user in users_of(row) {
        let versions: Vec<_> = all
            .iter()
            .flat_map(users_of)
            .filter(|u| u.key == user.key)
            .collect();
        let u = rows(
            graph,
            query("MATCH (u:User {key: $k}) RETURN u {.*} AS props, [(u)-[:BELONGS_TO]->(d:Domain) | d.id] AS domains")
                .param("k", user.key.as_str()),
        )
        .await;
        assert_eq!(u.len(), 1, "{id}: user {}", user.key);
        assert_eq!(
            strip_nulls(u[0]["props"].clone()),
            folded(versions.iter()),
            "{id}: user {}",
            user.key
        );
        assert_eq!(
            as_set(&u[0]["domains"]),
            ids(versions.iter().map(|v| &v.domain_id)),
            "{id}: user domain"
        );
    }
    if let Some(res) = &row.resource {
        let versions = all
            .iter()
            .filter_map(|r| r.resource.as_ref())
            .filter(|r| r.key == res.key);
        let r = rows(
            graph,
            query("MATCH (r:Resource {key: $k}) RETURN r {.*} AS props, [(r)-[:MEMBER_OF]->(t:Tenant) | t.projectId] AS tenants")
                .param("k", res.key.as_str()),
        )
        .await;
        assert_eq!(
            strip_nulls(r[0]["props"].clone()),
            folded(versions),
            "{id}: resource"
        );
        assert_eq!(r[0]["tenants"], json!([row.tenant.project_id]));
    }
    let tenants: Vec<_> = all
        .iter()
        .map(|r| &r.tenant)
        .filter(|t| t.project_id == row.tenant.project_id)
        .collect();
    let t = rows(
        graph,
        query(
            "MATCH (t:Tenant {projectId: $p}) RETURN t {.*} AS props, \
             [(t)-[:LOCATED_AT]->(r:Region) | r.name] AS regions, \
             [(t)-[:BELONGS_TO]->(d:Domain) | d.id] AS domains",
        )
        .param("p", row.tenant.project_id.as_str()),
    )
    .await;
    assert_eq!(
        strip_nulls(t[0]["props"].clone()),
        folded(tenants.iter().copied()),
        "{id}: tenant"
    );
    assert_eq!(
        as_set(&t[0]["regions"]),
        tenants
            .iter()
            .map(|t| t.region.clone())
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(
        as_set(&t[0]["domains"]),
        ids(tenants.iter().map(|t| &t.domain_id)),
        "{id}: tenant domain"
    );
}

#[tokio::test]
async fn read_back_equals_what_the_fixtures_imply() {
    let Some((writer, graph)) = db::writer("read_back_equals_what_the_fixtures_imply").await else {
        return;
    };
    let run = db::run_id("rb");
    let all = fixtures::all();
    let records: Vec<TraceRecord> = all.iter().map(|f| db::isolate(f, &run)).collect();
    let report = writer.write(&records).await.expect("write");

    let expected: Vec<Result<GraphRow, RowError>> = records
        .iter()
        .map(|r| map_trace(&r.trace, &r.context))
        .collect();
    let rejected: Vec<usize> = report.rejected.iter().map(|(i, _)| *i).collect();
    let should_reject: Vec<usize> = (0..records.len())
        .filter(|i| expected[*i].is_err())
        .collect();
    assert_eq!(
        rejected, should_reject,
        "rejected rows: {:?}",
        report.rejected
    );
    assert_eq!(
        should_reject.len(),
        3,
        "fixtures 11, 12, 13 cannot be written"
    );
    assert_eq!(report.written, records.len() - 3);

    let mapped: Vec<GraphRow> = expected.iter().flatten().cloned().collect();
    for i in 0..mapped.len() {
        assert_stored(&graph, &mapped, i).await;
    }
    // The documented example's time as Neo4j renders it.
    let first = expected[0].as_ref().expect("fixture 01 maps");
    let time = rows(
        &graph,
        query("MATCH (a:Action {traceId: $id}) RETURN toString(a.time) AS t, a.time.year AS y")
            .param("id", first.action.trace_id.as_str()),
    )
    .await;
    assert_eq!(time[0]["t"], json!("2016-08-25T18:11:48.232Z"));
    let (actions, _, _) = db::counts(&graph, &run).await;
    assert_eq!(actions, 10);
    db::cleanup(&graph, &run).await;
}

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
    let other = GraphWriter::connect(small).await.expect("connect");
    records.reverse();
    let report = other.write(&records).await.expect("third write");
    assert!(report.transactions >= 310 / 7);
    assert_eq!(
        db::counts(&graph, &run).await,
        first,
        "reversed, batches of 7"
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

const INJECTIONS: [&str; 8] = [
    "x'}) MATCH (n) DETACH DELETE n //",
    "x\"}) MATCH (n) DETACH DELETE n //",
    "`) DETACH DELETE n //",
    "$rows",
    "'; CALL dbms.security.createUser('evil','evil',false) //",
    "\\u0027}) RETURN 1 //",
    "}]->(x) WITH x MATCH (m) DELETE m //",
    "名前 \u{0000} \n\r\t {{}} ${x}",
];

#[tokio::test]
async fn cypher_injection_strings_are_stored_verbatim() {
    let Some((writer, graph)) = db::writer("cypher_injection_strings_are_stored_verbatim").await
    else {
        return;
    };
    let run = db::run_id("inj");
    let canary = db::isolate(&fixtures::by_name("02_"), &run);
    writer
        .write(std::slice::from_ref(&canary))
        .await
        .expect("canary");

    let p = |i: usize| INJECTIONS[i % INJECTIONS.len()];
    let mut records = Vec::new();
    for k in 0..INJECTIONS.len() {
        let trace = json!({
            "trace_id": format!("{run}{k}{}", p(k)), "trace_name": p(k + 1), "trace_rating": p(k + 2),
            "trace_type": p(k + 3), "request": p(k + 4), "response": {"evil": p(k + 5)}, "code": p(k + 6),
            "api_version": p(k + 7), "message": p(k), "time": 1_717_000_000_000_i64 + k as i64,
            "user": {"id": p(k + 1), "name": p(k + 2), "domain": {"id": format!("{run}{}", p(k + 3)), "name": p(k + 4)},
                     "assumedBy": {"user": {"name": p(k + 5), "domain": {"id": format!("{run}{}", p(k + 6))}}}},
            "service_type": p(k + 3), "resource_type": p(k + 4), "resource_name": p(k + 5), "resource_id": p(k + 6),
            "source_ip": p(k + 7), "request_id": p(k), "location_info": p(k + 1), "endpoint": p(k + 2),
            "resource_url": p(k + 3), p(k + 4): p(k + 5),
        });
        let ctx = trace_graph::TraceContext::new(format!("{run}{}", p(k + 1)), p(k + 2))
            .with_domain(format!("{run}{}", p(k + 3)), Some(p(k + 4).to_owned()));
        records.push(TraceRecord::new(
            serde_json::from_value(trace).expect("trace"),
            ctx,
        ));
    }
    let report = writer.write(&records).await.expect("write");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let mapped: Vec<GraphRow> = records
        .iter()
        .map(|r| map_trace(&r.trace, &r.context).expect("maps"))
        .collect();
    for i in 0..mapped.len() {
        assert_stored(&graph, &mapped, i).await;
    }
    // The canary survived and nothing else was created by the strings.
    let (actions, _, _) = db::counts(&graph, &run).await;
    assert_eq!(actions, 1 + INJECTIONS.len() as i64);
    let evil = rows(
        &graph,
        query("SHOW USERS YIELD user WHERE user = 'evil' RETURN count(*) AS c"),
    )
    .await;
    assert_eq!(evil[0]["c"], json!(0));
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
