//! `neo4j-sink query` as a user runs it: the real binary, its output and exit
//! codes; against the real Neo4j when NEO4J_URI is set (skipped otherwise,
//! failing instead when NEO4J_REQUIRED=1).

use serde_json::{json, Value};
use std::process::{Command, Output};
use trace_graph::playbook::QUESTIONS;
use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};

const BIN: &str = env!("CARGO_BIN_EXE_neo4j-sink");

fn query(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("query").args(args);
    for var in [
        "NEO4J_URI",
        "NEO4J_USER",
        "NEO4J_PASSWORD",
        "NEO4J_DATABASE",
        "NEO4J_CA_CERT",
        "QUERY_WIDTH",
        "COLUMNS",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run neo4j-sink query")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn list_names_every_question_without_a_database() {
    let out = query(&["--list"], &[("NEO4J_URI", "bolt://127.0.0.1:1")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for q in QUESTIONS {
        assert!(stdout.contains(q.name), "{} missing from --list", q.name);
        assert!(stdout.contains(q.title), "{} title missing", q.name);
    }
}

#[test]
fn usage_mistakes_exit_2_with_the_fix_and_never_connect() {
    // The URI points nowhere: a mistake must be reported before any connection attempt.
    let nowhere = [("NEO4J_URI", "bolt://127.0.0.1:1")];
    let cases: [(&[&str], &str); 5] = [
        (&["who-did-it"], "no such question"),
        (&["user-activity"], "`user` is required"),
        (
            &["user-activity", "-p", "user=a", "-p", "usr=b"],
            "unknown parameter `usr`",
        ),
        (
            &["user-activity", "-p", "user=a", "-p", "from=monday"],
            "`from` must be an ISO-8601",
        ),
        (
            &["user-activity", "-p", "user"],
            "expected a parameter as name=value",
        ),
    ];
    for (args, message) in cases {
        let out = query(args, &nowhere);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(stderr.contains("--list"), "{args:?}: {stderr}");
    }
    let out = query(&[], &nowhere);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no question: {}",
        text(&out.stderr)
    );
}

#[test]
fn bad_settings_exit_78_without_printing_the_password() {
    let out = query(
        &["logins"],
        &[
            ("NEO4J_URI", "http://localhost:7474"),
            ("NEO4J_PASSWORD", "s3cret-pw"),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("uri"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}

struct Db {
    uri: String,
    user: String,
    password: String,
}

fn db(test: &str) -> Option<Db> {
    match std::env::var("NEO4J_URI") {
        Ok(uri) if !uri.trim().is_empty() => Some(Db {
            uri,
            user: std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into()),
            password: std::env::var("NEO4J_PASSWORD").unwrap_or_default(),
        }),
        _ => {
            if std::env::var("NEO4J_REQUIRED").as_deref() == Ok("1") {
                panic!("{test}: NEO4J_REQUIRED=1 but NEO4J_URI is not set");
            }
            eprintln!("{test}: skipped: NEO4J_URI not set");
            None
        }
    }
}

fn trace(id: String, name: &str, time: i64, resource: &str) -> cts_client::Trace {
    serde_json::from_value(json!({
        "trace_id": id, "trace_name": name, "trace_rating": "normal",
        "trace_type": "ConsoleAction", "time": time, "code": "200",
        "user": {"name": "alice", "domain": {"id": "qc-domain"}},
        "service_type": "ECS", "resource_type": "ecs", "resource_id": resource,
        "resource_name": "web-1", "source_ip": "198.51.100.10",
    }))
    .expect("trace")
}

#[tokio::test]
async fn answers_from_the_real_graph_as_json_and_as_a_table() {
    let Some(db) = db("query_cmd::answers_from_the_real_graph") else {
        return;
    };
    let run = format!("qc{}", uuid::Uuid::new_v4().simple());
    let project = format!("{run}-proj");
    let config = GraphConfig::new(db.uri.clone(), db.user.clone(), db.password.clone());
    let writer = GraphWriter::connect(config).await.expect("connect");
    writer.ensure_schema().await.expect("schema");
    let ctx = TraceContext::new(project.clone(), "eu-de");
    let records = vec![
        TraceRecord::new(
            trace(
                format!("{run}-1"),
                "createServer",
                1_717_405_200_000,
                "srv-1",
            ),
            ctx.clone(),
        ),
        TraceRecord::new(
            trace(
                format!("{run}-2"),
                "deleteServer",
                1_717_408_800_000,
                "srv-1",
            ),
            ctx,
        ),
    ];
    writer.write(&records).await.expect("write");

    let env = [
        ("NEO4J_URI", db.uri.as_str()),
        ("NEO4J_USER", db.user.as_str()),
        ("NEO4J_PASSWORD", db.password.as_str()),
    ];
    let projects = format!("projects={project}");
    let out = query(
        &[
            "resource-changes",
            "-p",
            "resource=srv-1",
            "-p",
            &projects,
            "--format",
            "json",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(doc["question"], "resource-changes");
    assert_eq!(doc["columns"][0], "time");
    let rows = doc["rows"].as_array().expect("rows");
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap_or_default(),
                r[1].as_str().unwrap_or_default(),
                r[2].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("2024-06-03T09:00:00Z", "createServer", "alice"),
            ("2024-06-03T10:00:00Z", "deleteServer", "alice"),
        ]
    );

    let out = query(
        &["user-activity", "-p", "user=alice", "-p", &projects],
        &env,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("time "), "{table}");
    assert!(lines[1].starts_with("----"), "{table}");
    assert!(
        lines[2].contains("createServer") && lines[2].contains("web-1"),
        "{table}"
    );
    assert_eq!(lines.len(), 4, "{table}");
    assert!(text(&out.stderr).contains("(2 rows)"));

    let graph =
        neo4rs::Graph::new(db.uri.as_str(), db.user.as_str(), db.password.as_str()).expect("graph");
    for q in [
        "MATCH (a:Action) WHERE a.traceId STARTS WITH $run DETACH DELETE a",
        "MATCH (r:Resource) WHERE r.key STARTS WITH $run DETACH DELETE r",
        "MATCH (t:Tenant) WHERE t.projectId STARTS WITH $run DETACH DELETE t",
    ] {
        graph
            .run(neo4rs::query(q).param("run", run.as_str()))
            .await
            .expect("cleanup");
    }
}

#[test]
fn refused_credentials_exit_78() {
    let Some(db) = db("query_cmd::refused_credentials") else {
        return;
    };
    // A user that does not exist: failed logins of `neo4j` itself could lock
    // it for a moment and disturb the tests that share the server.
    let _ = db.user;
    let out = query(
        &["logins"],
        &[
            ("NEO4J_URI", db.uri.as_str()),
            ("NEO4J_USER", "neo4j-sink-query-nobody"),
            ("NEO4J_PASSWORD", "definitely-wrong-pw"),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("neo4j-sink-query-nobody"), "{stderr}");
    assert!(!stderr.contains("definitely-wrong-pw"), "{stderr}");
}

#[test]
fn a_missing_password_is_reported_as_missing() {
    // The URI points nowhere: the check happens before any connection attempt.
    for args in [&["logins"][..], &["--cypher", "RETURN 1 AS one"]] {
        let out = query(args, &[("NEO4J_URI", "bolt://127.0.0.1:1")]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {stderr}");
        assert!(
            stderr.contains("NEO4J_PASSWORD") && stderr.contains("is required"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("unavailable"), "{args:?}: {stderr}");
    }
}

#[test]
fn an_unreachable_server_names_the_uri_and_the_fix() {
    // Port 1 on localhost: nothing listens there.
    let uri = "bolt://127.0.0.1:1";
    let out = query(
        &["--cypher", "RETURN 1 AS one"],
        &[("NEO4J_URI", uri), ("NEO4J_PASSWORD", "not-used-pw")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(uri), "{stderr}");
    assert!(stderr.contains("NEO4J_URI"), "{stderr}");
    assert!(!stderr.contains("not-used-pw"), "{stderr}");
}

#[test]
fn a_bad_width_is_a_usage_mistake() {
    let out = query(
        &["logins", "--width", "wide"],
        &[("NEO4J_URI", "bolt://127.0.0.1:1"), ("NEO4J_PASSWORD", "x")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("QUERY_WIDTH (--width)"), "{stderr}");
}

fn env_of(db: &Db) -> Vec<(&str, &str)> {
    vec![
        ("NEO4J_URI", db.uri.as_str()),
        ("NEO4J_USER", db.user.as_str()),
        ("NEO4J_PASSWORD", db.password.as_str()),
    ]
}

#[test]
fn a_wrong_database_prints_its_name() {
    let Some(db) = db("query_cmd::a_wrong_database") else {
        return;
    };
    let mut env = env_of(&db);
    env.push(("NEO4J_DATABASE", "no-such-db-qc"));
    let out = query(&["--cypher", "RETURN 1 AS one"], &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("database no-such-db-qc"), "{stderr}");
    assert!(stderr.contains("NEO4J_DATABASE"), "{stderr}");
    assert!(!stderr.contains("Some("), "{stderr}");
    assert!(
        !stderr.contains(&db.password) || db.password.is_empty(),
        "{stderr}"
    );
}

#[tokio::test]
async fn cypher_reads_with_parameters_and_refuses_writes() {
    let Some(db) = db("query_cmd::cypher") else {
        return;
    };
    let run = format!("qc{}", uuid::Uuid::new_v4().simple());
    let env = env_of(&db);
    let graph =
        neo4rs::Graph::new(db.uri.as_str(), db.user.as_str(), db.password.as_str()).expect("graph");
    let count = || async {
        let mut rows = graph
            .execute(
                neo4rs::query("MATCH (n:QcProbe {run: $run}) RETURN count(n) AS n")
                    .param("run", run.as_str()),
            )
            .await
            .expect("count");
        let row = rows.next().await.expect("row").expect("a row");
        row.get::<i64>("n").expect("n")
    };

    // Writes are refused in the read transaction and leave nothing behind.
    let run_param = format!("run={run}");
    for write in [
        "CREATE (n:QcProbe {run: $run}) RETURN n",
        "MERGE (n:QcProbe {run: $run}) RETURN n.run AS run",
        "MATCH (t:Tenant) WITH t LIMIT 0 DETACH DELETE t RETURN 1 AS x",
        "UNWIND range(1, 3) AS i CREATE (:QcProbe {run: $run, i: i})",
    ] {
        let out = query(&["--cypher", write, "-p", &run_param], &env);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{write}: {stderr}");
        assert!(
            stderr.contains("only runs read queries"),
            "{write}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{write}");
    }
    assert_eq!(count().await, 0, "a refused write left nodes behind");

    // Reads: parameters as strings (several values of one name make a list),
    // columns in RETURN order, non-ASCII intact, JSON and a width-bound table.
    let long = "東京-サーバー-".repeat(20);
    let long_param = format!("long={long}");
    let cypher = "WITH $name AS name, $tags AS tags, $long AS long \
                  RETURN name AS `名前`, size(tags) AS n, tags, long, toInteger($k) * 2 AS twice";
    let args = [
        "--cypher",
        cypher,
        "-p",
        "name=Zoë 张伟",
        "-p",
        "tags=a",
        "-p",
        "tags=b,c",
        "-p",
        &long_param,
        "-p",
        "k=21",
    ];
    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let out = query(&json_args, &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(doc["question"], "cypher");
    assert_eq!(
        doc["columns"],
        json!(["名前", "n", "tags", "long", "twice"])
    );
    assert_eq!(
        doc["rows"],
        json!([["Zoë 张伟", 2, ["a", "b,c"], long, 42]])
    );

    let mut table_args = args.to_vec();
    table_args.extend(["--width", "60"]);
    let out = query(&table_args, &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("名前"), "{table}");
    assert!(lines[2].contains('…'), "the long cell is cut: {table}");
    assert!(lines[2].ends_with("  42"), "{table}");
    for l in &lines {
        // Every character but the CJK ones takes one terminal cell here.
        let cells: usize = l
            .chars()
            .map(|c| if c > '\u{2E80}' && c != '…' { 2 } else { 1 })
            .sum();
        assert!(cells <= 60, "{cells} cells: {l}");
    }

    // The default table width is 100 when stdout is not a terminal.
    let out = query(&args, &env);
    let table = text(&out.stdout);
    assert!(table.contains('…') && !table.contains(&long), "{table}");

    // A syntax error comes back with Neo4j's message, exit 1.
    let out = query(&["--cypher", "MATCH (n RETURN n"], &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Syntax") || stderr.contains("Invalid input"),
        "{stderr}"
    );
}

#[tokio::test]
async fn tables_show_projects_by_name_where_the_graph_knows_it() {
    let Some(db) = db("query_cmd::project_names") else {
        return;
    };
    let run = format!("qc{}", uuid::Uuid::new_v4().simple());
    // Two projects with 32-hex-like ids; only the first gets a name.
    let named = format!("{run}a");
    let unnamed = format!("{run}b");
    let config = GraphConfig::new(db.uri.clone(), db.user.clone(), db.password.clone());
    let writer = GraphWriter::connect(config).await.expect("connect");
    writer.ensure_schema().await.expect("schema");
    let records: Vec<TraceRecord> = [&named, &unnamed]
        .iter()
        .enumerate()
        .map(|(i, project)| {
            TraceRecord::new(
                trace(
                    format!("{run}-{i}"),
                    "createServer",
                    1_717_405_200_000,
                    &format!("{run}-srv-{i}"),
                ),
                TraceContext::new(project.as_str(), "eu-de"),
            )
        })
        .collect();
    writer.write(&records).await.expect("write");
    let graph =
        neo4rs::Graph::new(db.uri.as_str(), db.user.as_str(), db.password.as_str()).expect("graph");
    let name = "eu-de_東京-prod";
    graph
        .run(
            neo4rs::query("MATCH (t:Tenant {projectId: $id}) SET t.name = $name")
                .param("id", named.as_str())
                .param("name", name),
        )
        .await
        .expect("name the tenant");

    let env = env_of(&db);
    let projects = format!("projects={named},{unnamed}");
    let out = query(&["channel-mix", "-p", &projects], &env);
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(table.contains(name), "{table}");
    assert!(!table.contains(&named), "the named id is replaced: {table}");
    assert!(
        table.contains(&unnamed),
        "an id without a name stays: {table}"
    );

    let out = query(&["channel-mix", "-p", &projects, "--format", "json"], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let firsts: Vec<&str> = doc["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r[0].as_str())
        .collect();
    assert!(firsts.contains(&named.as_str()), "JSON keeps ids: {doc}");
    assert_eq!(doc["project_names"], json!({ named.clone(): name }));

    for q in [
        "MATCH (a:Action) WHERE a.traceId STARTS WITH $run DETACH DELETE a",
        "MATCH (r:Resource) WHERE r.key STARTS WITH $run DETACH DELETE r",
        "MATCH (t:Tenant) WHERE t.projectId STARTS WITH $run DETACH DELETE t",
    ] {
        graph
            .run(neo4rs::query(q).param("run", run.as_str()))
            .await
            .expect("cleanup");
    }
}
