//! Values longer than a Neo4j index entry may hold (issue 12: every trace
//! arrives, whatever its text): they are stored in full, indexed in a
//! shortened form, read back byte for byte and found by the playbook.
//!
//! Everything here runs against the real server; the figures of
//! the repository's docs/graph-model.md (8164 bytes per range-index entry) are measured here.

use crate::db::{self, rows};
use neo4rs::{query, Graph};
use serde_json::{json, Value};
use trace_graph::indexed::{index_form, FORM_SEPARATOR, MAX_FORM_BYTES, MAX_INDEXED_BYTES};
use trace_graph::playbook::{self, Args, Table};
use trace_graph::{map_trace, GraphWriter, TraceContext, TraceRecord};

/// Neo4j 5.26's largest string, in UTF-8 bytes, that a range index accepts.
const NEO4J_RANGE_ENTRY_BYTES: usize = 8164;

/// A value of `bytes` bytes that starts with `head`, mixes 1-, 2-, 3- and
/// 4-byte characters, and has a character straddling byte 4096.
fn long_text(head: &str, bytes: usize) -> String {
    let pattern = "aé€😀ZΩ中🎉";
    let mut s = head.to_owned();
    while s.len() < bytes {
        s.push_str(pattern);
    }
    while s.is_char_boundary(MAX_INDEXED_BYTES) {
        // Shift by one ASCII byte until the cut falls inside a character.
        s.insert(head.len(), '-');
    }
    while s.len() > bytes {
        s.pop();
    }
    while s.len() < bytes {
        s.push('a');
    }
    assert!(s.len() == bytes && !s.is_char_boundary(MAX_INDEXED_BYTES));
    s
}

/// Pads `value` at `at` with ASCII bytes until byte 4096 of `probe(value)`
/// falls inside a multi-byte character.
fn straddle(mut value: String, at: usize, probe: impl Fn(&str) -> String) -> String {
    for _ in 0..4 {
        let p = probe(&value);
        if p.len() > MAX_INDEXED_BYTES && !p.is_char_boundary(MAX_INDEXED_BYTES) {
            return value;
        }
        value.insert(at, '_');
    }
    panic!("no padding puts a character across byte 4096")
}

fn trace(v: Value, ctx: &TraceContext) -> TraceRecord {
    TraceRecord::new(serde_json::from_value(v).expect("trace"), ctx.clone())
}

/// One row of a read query, which must return exactly one.
async fn one(graph: &Graph, q: neo4rs::Query) -> Value {
    let mut got = rows(graph, q).await;
    assert_eq!(got.len(), 1, "exactly one row: {got:?}");
    got.remove(0)
}

/// Checks that the indexed property `prop` of the node matched by `pattern`
/// (with `$k`) holds `full` the way the rule says, and reads it back whole.
async fn assert_indexed(graph: &Graph, pattern: &str, prop: &str, full: &str) {
    let text = format!(
        "MATCH {pattern} RETURN n.{prop} AS stored, n.{prop}Full AS full, \
         coalesce(n.{prop}Full, n.{prop}) AS value"
    );
    let form = index_form(full).into_owned();
    let got = one(graph, query(&text).param("k", form.as_str())).await;
    assert_eq!(got["stored"], json!(form), "{pattern} {prop}: index form");
    assert!(form.len() <= MAX_FORM_BYTES);
    if full.len() > MAX_INDEXED_BYTES {
        assert_eq!(got["full"].as_str(), Some(full), "{pattern} {prop}Full");
        assert_ne!(form, full);
    } else {
        assert_eq!(
            got["full"],
            Value::Null,
            "{pattern} {prop}: no Full when short"
        );
    }
    let value = got["value"].as_str().expect("value");
    assert_eq!(
        value.as_bytes(),
        full.as_bytes(),
        "{pattern} {prop}: byte for byte"
    );
}

/// Deletes the run's nodes, including key-only nodes named after the run.
async fn cleanup(graph: &Graph, run: &str) {
    db::cleanup(graph, run).await;
    for q in [
        "MATCH (n:Region) WHERE n.name STARTS WITH $run DETACH DELETE n",
        "MATCH (n:Service) WHERE n.name STARTS WITH $run DETACH DELETE n",
        "MATCH (n:Status) WHERE n.name STARTS WITH $run DETACH DELETE n",
        "MATCH (n:IpAddress) WHERE n.address STARTS WITH $run DETACH DELETE n",
        "MATCH (n:Resource) WHERE n.key STARTS WITH $run DETACH DELETE n",
    ] {
        graph
            .run(query(q).param("run", run))
            .await
            .expect("cleanup");
    }
}

async fn ask(writer: &GraphWriter, question: &str, args: Args) -> Table {
    playbook::run(writer, question, &args)
        .await
        .unwrap_or_else(|e| panic!("{question}: {e}"))
}

/// The values of one column, in row order.
fn column(t: &Table, name: &str) -> Vec<Value> {
    let i = t
        .columns
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", t.columns));
    t.rows.iter().map(|r| r[i].clone()).collect()
}

#[tokio::test]
async fn the_server_refuses_index_entries_over_8164_bytes_and_every_form_fits() {
    let Some((_writer, graph)) = db::writer("index_entry_limit").await else {
        return;
    };
    let run = db::run_id("limit");
    // Resource.name has a range index (tg_resource_name); the key is short.
    let try_name = |name: String, n: u32| {
        let graph = graph.clone();
        let key = format!("{run}{n}");
        async move {
            graph
                .run(
                    query("CREATE (:Resource {key: $k, name: $n})")
                        .param("k", key)
                        .param("n", name),
                )
                .await
        }
    };
    let mut n = 0;
    for unit in ["a", "é", "€", "😀"] {
        let fits = unit.repeat(NEO4J_RANGE_ENTRY_BYTES / unit.len());
        n += 1;
        try_name(fits.clone(), n)
            .await
            .unwrap_or_else(|e| panic!("{} bytes of {unit}: {e}", fits.len()));
        let over = unit.repeat(NEO4J_RANGE_ENTRY_BYTES / unit.len() + 1);
        n += 1;
        let err = try_name(over.clone(), n)
            .await
            .expect_err("one character more is refused");
        assert!(
            err.to_string().contains("too large to index"),
            "{} bytes of {unit}: {err}",
            over.len()
        );
    }
    // The longest index form fits with room to spare.
    n += 1;
    try_name(
        format!("{}{}", "😀".repeat(1024), "x".repeat(MAX_FORM_BYTES - 4096)),
        n,
    )
    .await
    .expect("a form of MAX_FORM_BYTES fits");
    const { assert!(MAX_FORM_BYTES < NEO4J_RANGE_ENTRY_BYTES) };
    cleanup(&graph, &run).await;
}

#[tokio::test]
async fn long_values_are_stored_in_full_found_and_written_once() {
    let Some((writer, graph)) = db::writer("long_values").await else {
        return;
    };
    let run = db::run_id("long");
    let project = format!("{run}proj");
    let domain = format!("{run}dom");
    let ctx = TraceContext::new(project.clone(), "eu-de").with_domain(domain.clone(), None);

    // A 200,000-byte resource name (the resource has no id, so its key is long too).
    let big_name = long_text(&format!("{run}bucket-"), 200_000);
    // A 10 KB user name, padded so that byte 4096 of the user key is inside a character.
    let user_name = straddle(long_text("user-", 10_240), 5, |n| {
        let t = trace(
            json!({"trace_id": "x", "time": 1, "user": {"name": n}}),
            &ctx,
        );
        map_trace(&t.trace, &t.context).expect("maps").user.key
    });
    // A 5,000-byte trace id.
    let long_id = long_text(&format!("{run}id-"), 5000);
    // Two names that share their first 5,000 bytes.
    let common = long_text(&format!("{run}twin-"), 5000);
    let twin_a = format!("{common}-ALPHA");
    let twin_b = format!("{common}-OMEGA");

    let records = vec![
        trace(
            json!({"trace_id": long_id, "time": 1_717_400_000_000_i64, "trace_name": "createBucket",
                   "user": {"name": user_name, "domain": {"id": domain}}, "service_type": "OBS",
                   "resource_type": "bucket", "resource_name": big_name, "source_ip": "198.51.100.7"}),
            &ctx,
        ),
        // The same long name again, from another trace: one Resource node.
        trace(
            json!({"trace_id": format!("{run}second"), "time": 1_717_400_060_000_i64,
                   "trace_name": "deleteBucket", "user": {"name": "alice", "domain": {"id": domain}},
                   "service_type": "OBS", "resource_type": "bucket", "resource_name": big_name,
                   "source_ip": "198.51.100.8"}),
            &ctx,
        ),
        trace(
            json!({"trace_id": format!("{run}twin-a"), "time": 1_717_400_120_000_i64,
                   "trace_name": "updateServer", "user": {"name": "alice", "domain": {"id": domain}},
                   "service_type": "ECS", "resource_type": "server", "resource_name": twin_a}),
            &ctx,
        ),
        trace(
            json!({"trace_id": format!("{run}twin-b"), "time": 1_717_400_180_000_i64,
                   "trace_name": "updateServer", "user": {"name": "alice", "domain": {"id": domain}},
                   "service_type": "ECS", "resource_type": "server", "resource_name": twin_b}),
            &ctx,
        ),
    ];
    let report = writer.write(&records).await.expect("write");
    assert_eq!(report.written, 4, "{:?}", report.rejected);
    assert!(report.rejected.is_empty());

    // Byte for byte, through the index form.
    let rows_ = records
        .iter()
        .map(|r| map_trace(&r.trace, &r.context).expect("maps"))
        .collect::<Vec<_>>();
    let big_key = rows_[0].resource.as_ref().expect("resource").key.clone();
    let user_key = rows_[0].user.key.clone();
    assert!(
        !user_key.is_char_boundary(MAX_INDEXED_BYTES),
        "the cut falls inside a character"
    );
    assert!(!big_name.is_char_boundary(MAX_INDEXED_BYTES));
    assert_indexed(&graph, "(n:Action {traceId: $k})", "traceId", &long_id).await;
    assert_indexed(&graph, "(n:Resource {key: $k})", "key", &big_key).await;
    let got = one(
        &graph,
        query(
            "MATCH (n:Resource {key: $k}) RETURN n.name AS name, n.nameFull AS full, \
             [(n)<-[:APPLIED_ON]-(a:Action) | a.traceIdFull] AS actions, \
             [(n)<-[:APPLIED_ON]-(a:Action) | a.resourceName] AS copies",
        )
        .param("k", index_form(&big_key).as_ref()),
    )
    .await;
    assert_eq!(got["name"], json!(index_form(&big_name)));
    assert_eq!(
        got["full"].as_str().map(str::as_bytes),
        Some(big_name.as_bytes())
    );
    assert_eq!(
        got["actions"].as_array().expect("list").len(),
        2,
        "one node, two actions"
    );
    for copy in got["copies"].as_array().expect("list") {
        assert_eq!(
            copy.as_str(),
            Some(big_name.as_str()),
            "Action.resourceName is whole"
        );
    }
    assert_indexed(&graph, "(n:User {key: $k})", "key", &user_key).await;
    let got = one(
        &graph,
        query("MATCH (n:User {key: $k}) RETURN n.name AS name, n.nameFull AS full")
            .param("k", index_form(&user_key).as_ref()),
    )
    .await;
    assert_eq!(got["name"], json!(index_form(&user_name)));
    assert_eq!(
        got["full"].as_str().map(str::as_bytes),
        Some(user_name.as_bytes())
    );

    // The twins: the same 4 KB prefix, two nodes, each with its own full name.
    let twins = rows(
        &graph,
        query(
            "MATCH (n:Resource) WHERE n.name STARTS WITH left($common, 1024) \
             RETURN n.nameFull AS full, n.name AS name ORDER BY full",
        )
        .param("common", common.as_str()),
    )
    .await;
    assert_eq!(twins.len(), 2, "two different long names, two nodes");
    assert_eq!(twins[0]["full"], json!(twin_a));
    assert_eq!(twins[1]["full"], json!(twin_b));
    assert_ne!(twins[0]["name"], twins[1]["name"]);
    let prefix = |v: &Value| {
        v.as_str()
            .and_then(|s| s.split(FORM_SEPARATOR).next())
            .map(str::to_owned)
    };
    assert_eq!(
        prefix(&twins[0]["name"]),
        prefix(&twins[1]["name"]),
        "same prefix in both forms"
    );

    // Written again (redelivery): nothing changes.
    let before = db::counts(&graph, &run).await;
    let again = writer.write(&records).await.expect("write again");
    assert_eq!(again.written, 4);
    assert_eq!(db::counts(&graph, &run).await, before, "idempotent");

    // The playbook finds them by their full values.
    let projects = project.as_str();
    let changes = ask(
        &writer,
        "resource-changes",
        Args::new()
            .with("resource", big_name.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(
        column(&changes, "operation"),
        [json!("createBucket"), json!("deleteBucket")]
    );
    assert_eq!(
        column(&changes, "user")[0].as_str(),
        Some(user_name.as_str()),
        "whole user name"
    );
    let life = ask(
        &writer,
        "resource-life",
        Args::new()
            .with("resource", big_name.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(life.rows.len(), 2);
    assert_eq!(
        column(&life, "resourceKey")[0].as_str(),
        Some(big_key.as_str())
    );
    let lookup = ask(
        &writer,
        "resource-lookup",
        Args::new()
            .with("resource", "-omega")
            .with("projects", projects),
    )
    .await;
    assert_eq!(
        column(&lookup, "resource"),
        [json!(twin_b)],
        "CONTAINS reads the whole name"
    );
    for (twin, op_count) in [(&twin_a, 1), (&twin_b, 1)] {
        let t = ask(
            &writer,
            "resource-changes",
            Args::new()
                .with("resource", twin.as_str())
                .with("projects", projects),
        )
        .await;
        assert_eq!(t.rows.len(), op_count, "a twin finds only itself");
    }
    let activity = ask(
        &writer,
        "user-activity",
        Args::new()
            .with("user", user_name.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(column(&activity, "operation"), [json!("createBucket")]);
    assert_eq!(
        column(&activity, "resource")[0].as_str(),
        Some(big_name.as_str())
    );
    let radius = ask(
        &writer,
        "blast-radius-resources",
        Args::new()
            .with("user", user_name.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(
        column(&radius, "resource")[0].as_str(),
        Some(big_name.as_str())
    );
    // A value that only shares the prefix finds nothing.
    let none = ask(
        &writer,
        "user-activity",
        Args::new()
            .with("user", format!("{user_name}x"))
            .with("projects", projects),
    )
    .await;
    assert!(none.rows.is_empty(), "{:?}", none.rows.len());

    cleanup(&graph, &run).await;
}

#[tokio::test]
async fn every_key_and_indexed_property_takes_a_long_value() {
    let Some((writer, graph)) = db::writer("long_every_key").await else {
        return;
    };
    let run = db::run_id("longkeys");
    let long = |what: &str| long_text(&format!("{run}{what}-"), 5000);
    let (project, region, domain) = (long("proj"), long("region"), long("dom"));
    let (service, status, ip) = (long("svc"), long("status"), long("ip"));
    let (name, request_id, user_id, res_id) = (long("op"), long("req"), long("uid"), long("rid"));
    let res_name = long("rname");
    let ctx = TraceContext::new(project.clone(), region.clone()).with_domain(domain.clone(), None);
    let trace_id = format!("{run}t1");
    let record = trace(
        json!({"trace_id": trace_id, "time": 1_717_400_000_000_i64, "trace_name": name,
               "trace_rating": status, "request_id": request_id, "service_type": service,
               "source_ip": ip, "user": {"id": user_id, "domain": {"id": domain}},
               "resource_type": "thing", "resource_id": res_id, "resource_name": res_name,
               "code": "500"}),
        &ctx,
    );
    let report = writer
        .write(std::slice::from_ref(&record))
        .await
        .expect("write");
    assert_eq!(report.written, 1, "{:?}", report.rejected);
    let row = map_trace(&record.trace, &record.context).expect("maps");
    // cts-client lower-cases a rating (ASCII only); the status is the mapped one.
    assert_eq!(row.status, status.to_ascii_lowercase());
    let status = row.status.clone();

    assert_indexed(&graph, "(n:Action {traceId: $k})", "traceId", &trace_id).await;
    for (prop, full) in [("name", &name), ("requestId", &request_id)] {
        let got = one(
            &graph,
            query(&format!(
                "MATCH (n:Action {{traceId: $t}}) RETURN n.{prop} AS stored, n.{prop}Full AS full"
            ))
            .param("t", trace_id.as_str()),
        )
        .await;
        assert_eq!(got["stored"], json!(index_form(full)), "Action.{prop}");
        assert_eq!(
            got["full"].as_str().map(str::as_bytes),
            Some(full.as_bytes())
        );
    }
    let copies = one(
        &graph,
        query(
            "MATCH (n:Action {traceId: $t}) RETURN [n.projectId, n.region, n.domainId, n.service, \
             n.status, n.sourceIp, n.resourceId, n.resourceName] AS copies",
        )
        .param("t", trace_id.as_str()),
    )
    .await;
    assert_eq!(
        copies["copies"],
        json!([project, region, domain, service, status, ip, res_id, res_name]),
        "unindexed copies on the action are whole"
    );
    assert_indexed(&graph, "(n:Tenant {projectId: $k})", "projectId", &project).await;
    assert_indexed(&graph, "(n:Region {name: $k})", "name", &region).await;
    assert_indexed(&graph, "(n:Domain {id: $k})", "id", &domain).await;
    assert_indexed(&graph, "(n:Service {name: $k})", "name", &service).await;
    assert_indexed(&graph, "(n:Status {name: $k})", "name", &status).await;
    assert_indexed(&graph, "(n:IpAddress {address: $k})", "address", &ip).await;
    let res_key = row.resource.as_ref().expect("resource").key.clone();
    assert_indexed(&graph, "(n:Resource {key: $k})", "key", &res_key).await;
    let user_key = row.user.key.clone();
    assert_indexed(&graph, "(n:User {key: $k})", "key", &user_key).await;

    // Every link is in place, through the forms.
    let links = one(
        &graph,
        query(
            "MATCH (a:Action {traceId: $t}) \
             MATCH (a)-[:PERFORMED_BY]->(u:User)-[:BELONGS_TO]->(d:Domain), \
                   (a)-[:APPLIED_ON]->(r:Resource)-[:MEMBER_OF]->(t:Tenant)-[:LOCATED_AT]->(g:Region), \
                   (t)-[:BELONGS_TO]->(d), (a)-[:WITH_STATUS]->(s:Status), (a)-[:ON_SERVICE]->(v:Service), \
                   (a)-[:FROM_IP]->(i:IpAddress) \
             RETURN u.idFull AS uid, r.idFull AS rid, r.nameFull AS rname, d.idFull AS dom, \
                    g.nameFull AS region",
        )
        .param("t", trace_id.as_str()),
    )
    .await;
    assert_eq!(links["uid"], json!(user_id));
    assert_eq!(links["rid"], json!(res_id));
    assert_eq!(links["rname"], json!(res_name));
    assert_eq!(links["dom"], json!(domain));
    assert_eq!(links["region"], json!(region));

    // The playbook: by resource id, by user id, by IP, restricted to the long project.
    let projects = project.as_str();
    let t = ask(
        &writer,
        "resource-life",
        Args::new()
            .with("resource", res_id.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(column(&t, "operation"), [json!(name)]);
    let t = ask(
        &writer,
        "user-activity",
        Args::new()
            .with("user", user_id.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(column(&t, "service"), [json!(service)]);
    assert_eq!(column(&t, "sourceIp"), [json!(ip)]);
    let t = ask(
        &writer,
        "ip-activity",
        Args::new()
            .with("ip", ip.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(column(&t, "user"), [json!(user_id)]);
    assert_eq!(column(&t, "operations"), [json!([name])]);
    let t = ask(
        &writer,
        "user-source-ips",
        Args::new()
            .with("user", user_id.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(column(&t, "sourceIp"), [json!(ip)]);
    let t = ask(
        &writer,
        "flagged-actions",
        Args::new()
            .with("statuses", status.as_str())
            .with("projects", projects),
    )
    .await;
    assert_eq!(column(&t, "requestId"), [json!(request_id)]);

    cleanup(&graph, &run).await;
}

#[tokio::test]
async fn a_name_that_gets_short_again_drops_its_full_value() {
    let Some((writer, graph)) = db::writer("long_then_short").await else {
        return;
    };
    let run = db::run_id("rename");
    let ctx = TraceContext::new(format!("{run}proj"), "eu-de");
    let long = long_text(&format!("{run}old-"), 6000);
    let rec = |id: &str, t: i64, name: &str| {
        trace(
            json!({"trace_id": format!("{run}{id}"), "time": t, "trace_name": name,
                   "resource_type": "server", "resource_id": "srv-1", "resource_name": name,
                   "service_type": "ECS"}),
            &ctx,
        )
    };
    let key = format!("{run}proj/ECS/server/id:srv-1");
    let read = || async {
        one(
            &graph,
            query("MATCH (n:Resource {key: $k}) RETURN n.name AS name, n.nameFull AS full")
                .param("k", key.as_str()),
        )
        .await
    };
    // Across transactions: long, then short, then long again.
    writer.write(&[rec("a", 1, &long)]).await.expect("write");
    assert_eq!(read().await["full"], json!(long));
    writer.write(&[rec("b", 2, "web-1")]).await.expect("write");
    let got = read().await;
    assert_eq!(got["name"], json!("web-1"));
    assert_eq!(got["full"], Value::Null, "no stale full name");
    writer.write(&[rec("c", 3, &long)]).await.expect("write");
    assert_eq!(read().await["full"], json!(long));
    // Within one batch: the later, short name wins and takes the full one away.
    writer
        .write(&[rec("d", 4, &long), rec("e", 5, "web-2")])
        .await
        .expect("write");
    let got = read().await;
    assert_eq!(got["name"], json!("web-2"));
    assert_eq!(got["full"], Value::Null);
    // The same for an action written again with a short operation name.
    let id = format!("{run}a");
    writer
        .write(&[rec("a", 1, "stopServer")])
        .await
        .expect("write");
    let got = one(
        &graph,
        query("MATCH (n:Action {traceId: $t}) RETURN n.name AS name, n.nameFull AS full")
            .param("t", id.as_str()),
    )
    .await;
    assert_eq!(got, json!({"name": "stopServer", "full": null}));
    cleanup(&graph, &run).await;
}

#[tokio::test]
async fn the_boundary_is_4096_bytes_of_utf8() {
    let Some((writer, graph)) = db::writer("long_boundary").await else {
        return;
    };
    let run = db::run_id("edge");
    let project = format!("{run}proj");
    let domain = format!("{run}dom");
    let ctx = TraceContext::new(project.clone(), "eu-de").with_domain(domain.clone(), None);
    // 4096 bytes (1366 characters): stored as it is. 4097 bytes: shortened.
    let at_limit = format!("{}a", "€".repeat(1365));
    let over = format!("{at_limit}b");
    assert_eq!((at_limit.len(), over.len()), (4096, 4097));
    let records: Vec<_> = [&at_limit, &over]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            trace(
                json!({"trace_id": format!("{run}{i}"), "time": 1_717_400_000_000_i64 + i as i64,
                       "trace_name": "listServers", "user": {"name": name, "domain": {"id": domain}}}),
                &ctx,
            )
        })
        .collect();
    let report = writer.write(&records).await.expect("write");
    assert_eq!(report.written, 2, "{:?}", report.rejected);
    for (record, name) in records.iter().zip([&at_limit, &over]) {
        let row = map_trace(&record.trace, &record.context).expect("maps");
        // The key (domain + name) is over the limit in both cases.
        assert_indexed(&graph, "(n:User {key: $k})", "key", &row.user.key).await;
        let got = one(
            &graph,
            query("MATCH (n:User {key: $k}) RETURN n.name AS name, n.nameFull AS full")
                .param("k", index_form(&row.user.key).as_ref()),
        )
        .await;
        if name.len() == 4096 {
            assert_eq!(
                got,
                json!({"name": name, "full": null}),
                "4096 bytes: as it is"
            );
        } else {
            assert_eq!(got["full"], json!(name), "4097 bytes: whole in nameFull");
            assert_eq!(got["name"], json!(index_form(name)));
        }
        let t = ask(
            &writer,
            "user-activity",
            Args::new()
                .with("user", name.as_str())
                .with("projects", project.as_str()),
        )
        .await;
        assert_eq!(t.rows.len(), 1, "{} bytes: found", name.len());
    }
    cleanup(&graph, &run).await;
}
