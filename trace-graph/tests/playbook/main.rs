//! The playbook against a real Neo4j: every question is asked on the fixture
//! data set and its answer compared with the expected one in
//! `tests/fixtures/playbook/expected.json`; and `docs/queries.md` must equal
//! the page generated from the library and those same expected answers.
//!
//! Neo4j tests skip (with a message) when NEO4J_URI is unset, and fail then
//! when NEO4J_REQUIRED=1.

mod fixture;

use serde_json::Value;
use std::path::PathBuf;
use trace_graph::playbook::{self, Args, Sample, Table, QUESTIONS};
use trace_graph::Error;

/// One expected answer: the arguments (without the namespace) and the rows.
struct Expected {
    args: Args,
    table: Table,
}

/// `expected.json`: `{ "<question>": { "args": {name: value or [values]}, "rows": [[...]] } }`.
/// When `args` has no `projects`, the question is asked for every fixture project.
fn expected() -> Vec<(String, Expected)> {
    let path = fixture::dir().join("expected.json");
    let text = std::fs::read_to_string(&path).expect("read expected.json");
    let doc: serde_json::Map<String, Value> =
        serde_json::from_str(&text).expect("expected.json is a JSON object");
    doc.into_iter()
        .map(|(name, e)| {
            let question = playbook::find(&name)
                .unwrap_or_else(|| panic!("expected.json: no question {name}"));
            let mut args = Args::new();
            for (k, v) in e["args"].as_object().cloned().unwrap_or_default() {
                match v {
                    Value::Array(items) => items
                        .iter()
                        .for_each(|i| args.push(k.clone(), i.as_str().expect("text arg"))),
                    Value::String(s) => args.push(k, s),
                    other => panic!("{name}: argument {k} must be text, got {other}"),
                }
            }
            let rows: Vec<Vec<Value>> =
                serde_json::from_value(e["rows"].clone()).expect("rows are lists");
            let table = Table {
                columns: question.columns.iter().map(|c| (*c).to_owned()).collect(),
                rows,
            };
            (name, Expected { args, table })
        })
        .collect()
}

/// The arguments as sent: projects moved into the namespace (all fixture projects by default).
fn namespaced(args: &Args, ns: &str) -> Args {
    let mut out = Args::new();
    for (name, values) in args.iter() {
        for v in values {
            if name == "projects" {
                out.push(name, format!("{ns}{v}"));
            } else {
                out.push(name, v.clone());
            }
        }
    }
    if args.get("projects").is_none() {
        for p in fixture::projects() {
            out.push("projects", format!("{ns}{p}"));
        }
    }
    out
}

async fn check(name: &str) {
    let test = format!("playbook::{name}");
    let Some(db) = fixture::neo4j(&test) else {
        return;
    };
    let ns = fixture::loaded(&db);
    let all = expected();
    let (_, want) = all
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("expected.json has no answer for {name}"));
    let writer = fixture::writer(&db).await;
    let got = playbook::run(&writer, name, &namespaced(&want.args, &ns))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let got = Table {
        columns: got.columns,
        rows: got
            .rows
            .into_iter()
            .map(|r| r.into_iter().map(|v| fixture::strip(v, &ns)).collect())
            .collect(),
    };
    assert!(
        !got.rows.is_empty() || want.table.rows.is_empty(),
        "{name}: no rows"
    );
    assert_eq!(
        got,
        want.table,
        "{name}: answer differs from expected.json; got rows:\n{}",
        serde_json::to_string(&got.rows).unwrap_or_default()
    );
}

/// One test per question, so a failure names the question.
macro_rules! questions {
    ($($test:ident => $name:literal),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                check($name).await;
            }
        )+
        const TESTED: &[&str] = &[$($name),+];
    };
}

questions! {
    resource_lookup => "resource-lookup",
    resource_changes => "resource-changes",
    resource_life => "resource-life",
    resource_deletions => "resource-deletions",
    short_lived_resources => "short-lived-resources",
    user_activity => "user-activity",
    blast_radius => "blast-radius",
    blast_radius_resources => "blast-radius-resources",
    first_time_operations => "first-time-operations",
    new_users => "new-users",
    multi_project_users => "multi-project-users",
    agency_actions => "agency-actions",
    failures_by_service => "failures-by-service",
    failures_by_user => "failures-by-user",
    flagged_actions => "flagged-actions",
    access_denied => "access-denied",
    failed_then_succeeded => "failed-then-succeeded",
    new_source_ips => "new-source-ips",
    shared_source_ips => "shared-source-ips",
    user_source_ips => "user-source-ips",
    ip_activity => "ip-activity",
    iam_changes => "iam-changes",
    iam_changes_by_user => "iam-changes-by-user",
    logins => "logins",
    channel_mix => "channel-mix",
    channel_by_user => "channel-by-user",
    off_hours => "off-hours",
    top_users => "top-users",
    top_services => "top-services",
    daily_activity => "daily-activity",
    project_graph => "project-graph",
}

#[test]
fn every_question_has_a_test_and_an_expected_answer() {
    let names: Vec<&str> = QUESTIONS.iter().map(|q| q.name).collect();
    assert_eq!(
        TESTED,
        names.as_slice(),
        "the questions! list and QUESTIONS differ"
    );
    let answered: Vec<String> = expected().into_iter().map(|(n, _)| n).collect();
    for name in names {
        assert!(
            answered.iter().any(|a| a == name),
            "expected.json lacks {name}"
        );
    }
}

fn docs_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/queries.md")
}

#[test]
fn docs_queries_md_is_generated_from_the_library() {
    let samples: Vec<Sample> = expected()
        .into_iter()
        .map(|(question, e)| Sample {
            question,
            args: e.args,
            table: e.table,
        })
        .collect();
    let page = playbook::markdown(&samples);
    if std::env::var("PLAYBOOK_WRITE_DOCS").as_deref() == Ok("1") {
        std::fs::write(docs_path(), &page).expect("write docs/queries.md");
    }
    let on_disk = std::fs::read_to_string(docs_path()).unwrap_or_default();
    assert!(
        on_disk == page,
        "docs/queries.md differs from the playbook; regenerate it with \
         PLAYBOOK_WRITE_DOCS=1 cargo test -p trace-graph --test playbook"
    );
}

#[tokio::test]
async fn values_never_become_cypher() {
    let Some(db) = fixture::neo4j("playbook::values_never_become_cypher") else {
        return;
    };
    let ns = fixture::loaded(&db);
    let writer = fixture::writer(&db).await;
    for evil in [
        "alice' OR 1=1 //",
        "alice\"}) MATCH (n) DETACH DELETE n //",
        "$user",
    ] {
        let args = Args::new()
            .with("user", evil)
            .with("projects", format!("{ns}proj-prod"));
        let table = playbook::run(&writer, "user-activity", &args)
            .await
            .expect("a strange name is still just a name");
        assert!(table.rows.is_empty(), "{evil}: {:?}", table.rows);
    }
    let alice = Args::new()
        .with("user", "alice")
        .with("projects", format!("{ns}proj-prod"));
    let table = playbook::run(&writer, "user-activity", &alice)
        .await
        .expect("alice");
    assert!(!table.rows.is_empty(), "the fixture is still there");
}

#[tokio::test]
async fn mistakes_are_reported_before_neo4j_is_asked() {
    let Some(db) = fixture::neo4j("playbook::mistakes_are_reported") else {
        return;
    };
    let writer = fixture::writer(&db).await;
    let err = playbook::run(&writer, "who-did-it", &Args::new())
        .await
        .expect_err("unknown question");
    assert!(
        matches!(&err, Error::Question { question, problem }
            if question == "who-did-it" && problem.contains("resource-changes")),
        "{err}"
    );
    let err = playbook::run(
        &writer,
        "user-activity",
        &Args::new().with("from", "monday"),
    )
    .await
    .expect_err("bad arguments");
    let text = err.to_string();
    assert!(text.contains("`user` is required"), "{text}");
}

#[tokio::test]
async fn an_empty_project_list_reads_every_project() {
    let Some(db) = fixture::neo4j("playbook::an_empty_project_list") else {
        return;
    };
    let ns = fixture::loaded(&db);
    let writer = fixture::writer(&db).await;
    // The fixture's IP 203.0.113.66 is only used by its own mallory, so with no
    // project restriction the fixture's actions must still be among the answer.
    let table = playbook::run(
        &writer,
        "ip-activity",
        &Args::new().with("ip", "203.0.113.66"),
    )
    .await
    .expect("ip-activity");
    let projects: Vec<String> = table
        .records()
        .iter()
        .filter_map(|r| r["project"].as_str().map(str::to_owned))
        .collect();
    assert!(projects.contains(&format!("{ns}proj-prod")), "{projects:?}");
    assert!(projects.contains(&format!("{ns}proj-data")), "{projects:?}");
}

#[tokio::test]
async fn users_with_one_name_in_two_domains_stay_two_users() {
    let test = "playbook::users_with_one_name_in_two_domains";
    let Some(db) = fixture::neo4j(test) else {
        return;
    };
    let run = format!(
        "pbt{}-",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    let login = |n: u32, domain: &str, ip: &str, minute: i64| {
        let trace = serde_json::json!({
            "trace_id": format!("{run}{n}"), "trace_name": "login", "trace_rating": "normal",
            "trace_type": "ConsoleAction", "time": 1_717_405_200_000_i64 + minute * 60_000,
            "user": {"name": "alice", "domain": {"id": format!("{run}{domain}")}},
            "service_type": "IAM", "source_ip": ip,
        });
        trace_graph::TraceRecord::new(
            serde_json::from_value(trace).expect("trace"),
            trace_graph::TraceContext::new(format!("{run}proj"), "eu-de"),
        )
    };
    let records = [
        login(1, "dom-a", "192.0.2.1", 0),
        login(2, "dom-b", "192.0.2.2", 1),
        login(3, "dom-b", "192.0.2.1", 2),
    ];
    let writer = fixture::writer(&db).await;
    writer.ensure_schema().await.expect("schema");
    writer.write(&records).await.expect("write");
    let project = Args::new().with("projects", format!("{run}proj"));

    let logins = playbook::run(&writer, "logins", &project)
        .await
        .expect("logins");
    let rows: Vec<(Value, Value)> = logins
        .records()
        .iter()
        .map(|r| (r["user"].clone(), r["logins"].clone()))
        .collect();
    assert_eq!(
        rows,
        [
            (Value::from("alice"), Value::from(1)),
            (Value::from("alice"), Value::from(2))
        ],
        "one row per User node, not per name"
    );
    let shared = playbook::run(&writer, "shared-source-ips", &project)
        .await
        .expect("shared-source-ips");
    assert_eq!(
        shared.rows,
        [vec![
            Value::from("192.0.2.1"),
            Value::from(2),
            serde_json::json!(["alice", "alice"]),
            Value::from(2)
        ]]
    );

    let graph =
        neo4rs::Graph::new(db.uri.as_str(), db.user.as_str(), db.password.as_str()).expect("graph");
    for q in [
        "MATCH (a:Action) WHERE a.traceId STARTS WITH $run DETACH DELETE a",
        "MATCH (t:Tenant) WHERE t.projectId STARTS WITH $run DETACH DELETE t",
        "MATCH (u:User) WHERE u.key STARTS WITH $run DETACH DELETE u",
        "MATCH (d:Domain) WHERE d.id STARTS WITH $run DETACH DELETE d",
    ] {
        graph
            .run(neo4rs::query(q).param("run", run.as_str()))
            .await
            .expect("cleanup");
    }
}

#[test]
fn the_browser_style_file_colours_and_captions_every_node_label() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/neo4j-browser.grass");
    let grass = std::fs::read_to_string(&path).expect("read docs/neo4j-browser.grass");
    // Each label of docs/graph-model.md with the property its caption must show.
    let labels = [
        ("Action", "name"),
        ("User", "name"),
        ("Resource", "name"),
        ("Tenant", "projectId"),
        ("Region", "name"),
        ("Domain", "name"),
        ("Status", "name"),
        ("Service", "name"),
        ("IpAddress", "address"),
    ];
    let mut colours = Vec::new();
    for (label, caption) in labels {
        let start = grass
            .find(&format!("node.{label} {{"))
            .unwrap_or_else(|| panic!("no style for {label}"));
        let block = &grass[start..start + grass[start..].find("\n}").expect("closing brace")];
        let colour = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("color: "))
            .unwrap_or_else(|| panic!("{label} has no color"));
        assert!(
            block.contains(&format!("caption: \"{{{caption}}}\";")),
            "{label} should be captioned by {caption}: {block}"
        );
        colours.push(colour.to_owned());
    }
    let distinct: std::collections::BTreeSet<&String> = colours.iter().collect();
    assert_eq!(
        distinct.len(),
        labels.len(),
        "every label has its own colour"
    );
}
