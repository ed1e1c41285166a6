//! Batch mode (`CTS_CE_BATCH=true`) into the real neo4j-sink and the real Neo4j.
//!
//! The sink accepts only the event types of one CTS service (`ACCEPTED_TYPE_PREFIXES`), so most batches
//! hold events it refuses: it answers 400 for the batch, the exporter sends that batch's events again one
//! at a time, and only the refused ones reach the dead-letter file. In the end every trace of the accepted
//! service is in Neo4j exactly once, every other trace is in the dead-letter file exactly once with status
//! 400, and nothing is left unacknowledged.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use cts_emulator::AuthKind;
use neo4rs::{query, Graph};

use crate::roundtrip::{neo4j_env, start_sink_with};
use crate::support::exporter::Exporter;
use crate::support::world::{env_with, history, World};

/// The `<service>` segment of the exporter's event type (docs/events.md).
fn segment(service: &str) -> String {
    service
        .trim()
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn stored(graph: &Graph, ids: &[String]) -> Vec<String> {
    let mut rows = graph
        .execute(
            query("MATCH (a:Action) WHERE a.traceId IN $ids RETURN a.traceId AS id")
                .param("ids", ids.to_vec()),
        )
        .await
        .expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.expect("row") {
        out.push(row.get::<String>("id").expect("id"));
    }
    out
}

fn dead_lettered(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON record per line"))
        .collect()
}

#[test]
fn batches_into_the_real_sink_store_each_trace_once_and_dead_letter_only_refused_events() {
    let Some((uri, user, password)) = neo4j_env() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut cfg = history(600, Duration::from_secs(1800));
        cfg.seed = rand::random();
        let world = World::start(cfg, AuthKind::Password).await;
        let traces = world.all_traces().await;
        let mut per_service: HashMap<String, usize> = HashMap::new();
        for t in traces.values() {
            *per_service
                .entry(segment(t.service_type.as_deref().unwrap_or("")))
                .or_default() += 1;
        }
        let (service, _) = per_service
            .iter()
            .max_by_key(|(s, n)| (**n, (*s).clone()))
            .expect("traces");
        let accepted: HashSet<String> = traces
            .values()
            .filter(|t| segment(t.service_type.as_deref().unwrap_or("")) == *service)
            .filter_map(|t| t.trace_id.clone())
            .collect();
        let refused: HashSet<String> = traces
            .keys()
            .filter(|id| !accepted.contains(*id))
            .cloned()
            .collect();
        eprintln!(
            "{} traces: {} of service {service} accepted, {} refused by type",
            traces.len(),
            accepted.len(),
            refused.len()
        );
        assert!(!accepted.is_empty() && refused.len() > 10);

        let (sink_url, _stop) = start_sink_with(
            &uri,
            &user,
            &password,
            &[format!(
                "--accepted-type-prefixes=com.otc.cts.trace.{service}."
            )],
        )
        .await;
        let dead = world.path("dead.ndjson");
        let env = env_with(
            world.env(&sink_url),
            &[
                ("CTS_FROM", "60"),
                ("CTS_CE_BATCH", "true"),
                ("CTS_CE_BATCH_MAX_EVENTS", "25"),
                ("CTS_CE_BATCH_MAX_DELAY_MS", "50"),
                ("CTS_DEAD_LETTER_FILE", dead.to_str().expect("utf-8")),
            ],
        );
        let graph = Graph::new(&uri, &user, &password).expect("graph");
        let all_ids: Vec<String> = traces.keys().cloned().collect();
        let exporter = Exporter::spawn(&[], &env, world.cwd());
        let start = Instant::now();
        loop {
            let in_graph = stored(&graph, &all_ids).await.len();
            let in_file = dead_lettered(&dead).len();
            if in_graph >= accepted.len() && in_file >= refused.len() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "after 120 s: {in_graph} of {} stored, {in_file} of {} dead-lettered\n{}",
                accepted.len(),
                refused.len(),
                exporter.stderr()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Time for anything that should not come.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let done = exporter.terminate(Duration::from_secs(30)).await;
        assert_eq!(done.code, Some(0), "{}", done.stderr);

        let got = stored(&graph, &all_ids).await;
        let got_set: HashSet<String> = got.iter().cloned().collect();
        assert_eq!(got.len(), got_set.len(), "a trace stored twice");
        assert_eq!(got_set, accepted, "stored traces");

        let records = dead_lettered(&dead);
        let ids: Vec<String> = records
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_string())
            .collect();
        let id_set: HashSet<String> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), id_set.len(), "an event dead-lettered twice");
        assert_eq!(id_set, refused, "dead-lettered events");
        for r in &records {
            assert_eq!(r["status"], 400, "{r}");
            assert!(
                r["reason"].as_str().unwrap_or("").contains("not accepted"),
                "{r}"
            );
            assert_eq!(r["event"]["id"], r["id"], "the event itself is kept: {r}");
        }
        assert!(
            done.stderr.contains("the sink refused a batch"),
            "the fallback is logged: {}",
            done.stderr
        );
    });
}
