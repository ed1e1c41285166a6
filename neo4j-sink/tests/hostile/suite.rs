//! The run: the table against one sink process with good events sent
//! alongside, then the checks on the process and on the graph.

use crate::common::{env, event, graph, run_id, Env};
use crate::model::{Answer, Case, Expect};
use crate::process::SinkProcess;
use crate::{cases, injection, interop};
use neo4rs::{query, Graph};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What is wrong with an answer, or `None` when it is the expected one.
fn judge(expect: &Expect, answer: &Result<Answer, String>) -> Option<String> {
    let a = match answer {
        Ok(a) => a,
        Err(e) => return Some(format!("no answer: {e}")),
    };
    let got = format!("{} {}", a.status, a.body);
    match expect {
        Expect::Stored(n) => {
            (a.status != 202 || a.body["stored"].as_u64() != Some(*n)).then_some(got)
        }
        Expect::Refused(status, error) => {
            let detail_ok = a.body["detail"].as_str().is_some_and(|d| d.len() > 10);
            let allow_ok = *status != 405 || a.allow.is_some();
            let shape_ok = a.body.as_object().is_some_and(|o| {
                o.keys()
                    .all(|k| k == "error" || k == "detail" || k == "events")
            });
            (a.status != *status
                || a.body["error"] != *error
                || !detail_ok
                || !allow_ok
                || !shape_ok)
                .then_some(got)
        }
        Expect::Partial(refused) => {
            let listed: Vec<(u64, String)> = a.body["events"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|e| {
                            (
                                e["index"].as_u64().unwrap_or(u64::MAX),
                                e["error"].as_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let want: Vec<(u64, String)> =
                refused.iter().map(|(i, e)| (*i, e.to_string())).collect();
            (a.status != 400 || a.body["error"] != "invalid_events" || listed != want)
                .then_some(got)
        }
    }
}

fn expected_text(expect: &Expect) -> String {
    match expect {
        Expect::Stored(n) => format!("202 stored {n}"),
        Expect::Refused(s, e) => format!("{s} {e}"),
        Expect::Partial(l) => format!("400 invalid_events {l:?}"),
    }
}

async fn strings(graph: &Graph, cypher: &str, params: &[(&str, &str)]) -> Vec<String> {
    let mut q = query(cypher);
    for (k, v) in params {
        q = q.param(k, *v);
    }
    let mut rows = graph.execute(q).await.expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.expect("row") {
        if let Ok(v) = row.get::<String>("v") {
            out.push(v);
        }
    }
    out
}

/// Good events sent one after the other until `stop`; returns (id, status).
fn alongside(
    base: String,
    run: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(String, u16)>> {
    tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut sent = Vec::new();
        let mut n = 0;
        while !stop.load(Ordering::SeqCst) {
            let id = format!("{run}-alongside-{n}");
            let e = event(&id, &run);
            let req = if n % 2 == 0 {
                cases::structured(&e)
            } else {
                cases::binary(&e)
            };
            let status = req.send(&http, &base).await.map(|a| a.status).unwrap_or(0);
            sent.push((id, status));
            n += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sent
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_their_status_and_change_nothing_else() {
    let Some(env) = env("hostile_requests_get_their_status_and_change_nothing_else") else {
        return;
    };
    let mut sink = SinkProcess::ready(&env, &[]).await;
    let run = run_id();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let stop = Arc::new(AtomicBool::new(false));
    let good = alongside(sink.base.clone(), run.clone(), Arc::clone(&stop));

    let table: Vec<Case> = cases::refused(&run)
        .into_iter()
        .chain(cases::batches(&run))
        .chain(injection::accepted(&run))
        .chain(interop::cases(&run))
        .collect();
    let mut failures = Vec::new();
    let mut per_category: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    let mut must_store = BTreeSet::new();
    let mut must_not = BTreeSet::new();
    let mut checks = Vec::new();
    let total = table.len();
    for case in table {
        let expected = expected_text(&case.expect);
        let answer = case.req.send(&http, &sink.base).await;
        let status = answer.as_ref().map(|a| a.status.to_string());
        *per_category
            .entry(case.category)
            .or_default()
            .entry(status.clone().unwrap_or_else(|_| "no answer".into()))
            .or_default() += 1;
        if let Ok(a) = &answer {
            let detail = a.body["detail"].as_str().unwrap_or("");
            println!(
                "  {:<24} {:<36} {} {:<24} {}",
                case.category,
                case.name.chars().take(36).collect::<String>(),
                a.status,
                a.body["error"].as_str().unwrap_or("-"),
                detail.chars().take(160).collect::<String>()
            );
        }
        if let Ok(a) = &answer {
            let detail = a.body["detail"].as_str().unwrap_or("");
            for word in &case.detail_has {
                if !detail.contains(word.as_str()) {
                    failures.push(format!(
                        "[{}] {}: the detail does not name {word:?}: {detail}",
                        case.category, case.name
                    ));
                }
            }
        }
        if let Some(got) = judge(&case.expect, &answer) {
            failures.push(format!(
                "[{}] {}: expected {expected}, got {got}",
                case.category, case.name
            ));
        }
        if let Ok(a) = &answer {
            assert!(
                a.status != 409 && (a.status != 404 || case.name == "post-unknown-path"),
                "{}: never 404/409 for a bad event",
                case.name
            );
        }
        must_store.extend(case.stored);
        must_not.extend(case.absent);
        checks.extend(case.checks);
    }

    // A sender that writes all of a 10 MB body before reading gets the 413,
    // not a reset connection (which it would retry).
    for (mode, head) in [
        (
            "structured",
            "Content-Type: application/cloudevents+json\r\n",
        ),
        ("not a CloudEvent", "Content-Type: text/plain\r\n"),
    ] {
        let base = sink.base.clone();
        let head = head.to_string();
        let got = tokio::task::spawn_blocking(move || {
            crate::model::write_all_then_read(&base, &head, &vec![b'x'; 10 << 20])
        })
        .await
        .expect("joined");
        let want = if mode == "structured" { 413 } else { 400 };
        if got != Ok(want) {
            failures.push(format!(
                "[size] 10 MB written before reading ({mode}): expected {want}, got {got:?}"
            ));
        }
    }

    // The same event five times at once: five 202, one action.
    let dup = format!("{run}-concurrent-dup");
    let sends = (0..5).map(|i| {
        let e = event(&dup, &run);
        let req = if i % 2 == 0 {
            cases::structured(&e)
        } else {
            cases::binary(&e)
        };
        req.send(&http, &sink.base)
    });
    for answer in futures::future::join_all(sends).await {
        let status = answer.map(|a| a.status).unwrap_or(0);
        assert_eq!(status, 202, "concurrent duplicate");
    }
    must_store.insert(dup);

    stop.store(true, Ordering::SeqCst);
    let alongside = good.await.expect("alongside joined");
    let refused_alongside: Vec<_> = alongside.iter().filter(|(_, s)| *s != 202).collect();
    assert!(
        refused_alongside.is_empty(),
        "good events sent alongside were refused: {refused_alongside:?}"
    );
    assert!(
        alongside.len() >= 20,
        "only {} good events sent alongside",
        alongside.len()
    );
    must_store.extend(alongside.into_iter().map(|(id, _)| id));

    // The process is still up and healthy.
    assert!(sink.running(), "the sink exited:\n{}", sink.stderr());
    let health = http
        .get(format!("{}/healthz", sink.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    println!("hostile input: {total} cases (+ 5 concurrent duplicates, good events alongside)");
    for (category, statuses) in &per_category {
        println!("  {category:<26} {statuses:?}");
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total >= 50, "at least 50 cases, got {total}");

    verify_graph(&env, &run, &must_store, &must_not, checks).await;

    let (code, stderr) = sink.terminate().await;
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains(&format!("Pwned_{run}")),
        "payloads are not logged: {stderr}"
    );
    assert_eq!(code, Some(0), "clean shutdown: {stderr}");
    // Events stored under the placeholder context are reported once at WARN.
    assert_eq!(
        stderr.matches("stored under the placeholder").count(),
        1,
        "one WARN for the placeholder context: {stderr}"
    );
}

async fn verify_graph(
    env: &Env,
    run: &str,
    must_store: &BTreeSet<String>,
    must_not: &BTreeSet<String>,
    checks: Vec<crate::model::Check>,
) {
    let graph = graph(env);
    let stored: BTreeSet<String> = strings(
        &graph,
        "MATCH (a:Action) WHERE a.traceId STARTS WITH $run RETURN coalesce(a.traceIdFull, a.traceId) AS v",
        &[("run", run)],
    )
    .await
    .into_iter()
    .collect();
    let missing: Vec<_> = must_store.difference(&stored).collect();
    let extra: Vec<_> = stored
        .difference(must_store)
        .map(|s| s.chars().take(80).collect::<String>())
        .collect();
    assert!(
        missing.is_empty(),
        "accepted events not in the graph: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "trace ids in the graph that were never accepted: {extra:?}"
    );
    for id in must_not {
        let n = strings(&graph, injection::Q_COUNT, &[("id", id)]).await;
        assert_eq!(n, vec!["0".to_string()], "refused trace {id} was written");
    }
    for (what, cypher) in [
        ("labels", "CALL db.labels() YIELD label WHERE label CONTAINS $run RETURN label AS v"),
        ("property keys", "CALL db.propertyKeys() YIELD propertyKey WHERE propertyKey CONTAINS $run RETURN propertyKey AS v"),
        ("relationship types", "CALL db.relationshipTypes() YIELD relationshipType WHERE relationshipType CONTAINS $run RETURN relationshipType AS v"),
    ] {
        let found = strings(&graph, cypher, &[("run", run)]).await;
        assert!(found.is_empty(), "an injection payload ran: {what} {found:?}");
    }
    let mut wrong = Vec::new();
    for c in &checks {
        let got = strings(&graph, c.cypher, &[("id", &c.id)]).await;
        if got != vec![c.expected.clone()] {
            let short = |s: &str| s.chars().take(120).collect::<String>();
            wrong.push(format!(
                "{} of {}: expected {:?}, got {:?}",
                c.what,
                short(&c.id),
                short(&c.expected),
                got.iter().map(|g| short(g)).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "values not stored verbatim:\n{}",
        wrong.join("\n")
    );
    println!(
        "graph: {} trace ids stored as expected, {} refused absent, {} values read back verbatim",
        stored.len(),
        must_not.len(),
        checks.len()
    );
}
