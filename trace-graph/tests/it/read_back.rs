//! Read-back: what the writer stored equals what `map_trace` says, for the
//! fixtures and for traces full of Cypher-injection strings.

use crate::db::{self, rows, strip_nulls};
use crate::fixtures;
use neo4rs::query;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use trace_graph::{map_trace, GraphRow, RowError, TraceRecord};

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
             RETURN a {.*, time: null, recordTime: null, storedAt: null} AS props, \
                    a.time = datetime({epochMillis: a.timeMs}) AS timeOk, \
                    a.storedAt <= datetime() AND a.storedAt > datetime() - duration('PT1H') AS storedOk, \
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
        got["storedOk"],
        Value::Bool(true),
        "{id}: storedAt is the write's time"
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
