//! Warming a cold server before traffic: [`GraphWriter::warm_up`].
//!
//! A freshly started Neo4j plans and compiles the write statement on its
//! first use and runs it in an interpreter until the JVM's JIT has compiled
//! the hot paths, which takes many thousands of rows: measured on a fresh
//! server, the first events cost Neo4j ten times the CPU of warm ones
//! (docs/performance.md). The warm-up runs the real write statement, with the
//! batch sizes the caller will use, on synthetic traces in transactions that
//! are **rolled back**: Neo4j plans, caches and executes the statement (index
//! seeks, node and relationship creation, index updates in the transaction
//! state), but nothing is ever committed, so no reader sees any of it.
//!
//! The synthetic traces use keys of their own (a random `tg-warmup-<hex>`
//! prefix per call), so a warm-up never locks a node that real traffic writes,
//! and several processes may warm up at the same time.

use crate::batch::Batch;
use crate::cypher;
use crate::error::Error;
use crate::mapping::map_trace;
use crate::model::{GraphRow, TraceContext};
use crate::params::write_params;
use crate::retry::{classify, Failure};
use crate::writer::{to_error, GraphWriter};
use neo4rs::{query, BoltType};
use std::time::{Duration, Instant};

/// What [`GraphWriter::warm_up`] should run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WarmUp {
    /// Batch sizes to run the write statement with, in turn (each clamped to
    /// `1..=batch_size` of the writer's configuration). Default: 1, 20 and
    /// the configured batch size, the shapes a group-committing receiver sees.
    pub batch_sizes: Vec<usize>,
    /// No transaction starts after this long. Default 20 s.
    pub budget: Duration,
    /// No transaction starts once this many synthetic traces were run.
    /// Default 50,000.
    pub max_traces: usize,
    /// Stop early once the time per trace no longer falls: after at least
    /// five rounds (one transaction per batch size each), when none of the
    /// last five was 10 % faster than the best round before them. A server
    /// that is already warm is then left after a few rounds. Default true.
    pub stop_when_flat: bool,
    /// Transactions run at once (each batch size `streams` times per round),
    /// so a server with several cores warms on all of them. Default 2.
    pub streams: usize,
}

impl WarmUp {
    /// The defaults for a writer with this batch size.
    pub fn for_batch_size(batch_size: usize) -> WarmUp {
        WarmUp {
            batch_sizes: vec![1, 20, batch_size.max(1)],
            budget: Duration::from_secs(20),
            max_traces: 50_000,
            stop_when_flat: true,
            streams: 2,
        }
    }
}

/// What a warm-up did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WarmUpReport {
    /// Transactions run and rolled back.
    pub transactions: usize,
    /// Synthetic traces in them.
    pub traces: usize,
    /// Time spent in all.
    pub elapsed: Duration,
    /// Duration of the first transactions (they include planning the
    /// statement on a server that has not seen it).
    pub first: Duration,
    /// Mean duration per trace of the first complete round of transactions
    /// (`streams` per batch size).
    pub first_per_trace: Duration,
    /// Mean duration per trace of the last complete round, to compare with
    /// the first.
    pub last_per_trace: Duration,
    /// True when the warm-up ended because the time per trace stopped falling
    /// (see [`WarmUp::stop_when_flat`]), false when the budget or the trace
    /// count ended it.
    pub flat: bool,
}

/// Whether the per-trace times of complete rounds (oldest first) have stopped
/// falling: at least five rounds after the first, and none of the last five
/// 10 % faster than the best before them.
fn is_flat(rounds: &[Duration]) -> bool {
    const WINDOW: usize = 5;
    if rounds.len() < WINDOW + 1 {
        return false;
    }
    let (before, last) = rounds.split_at(rounds.len() - WINDOW);
    let best_before = before.iter().min().copied().unwrap_or_default();
    let best_last = last.iter().min().copied().unwrap_or_default();
    best_last.as_secs_f64() > 0.9 * best_before.as_secs_f64()
}

/// `n` synthetic traces: every shape of relationship, a few shared users,
/// resources and IPs (so shared nodes are found as well as created). Every
/// key, shared nodes' included (region, status, service), starts with
/// `prefix`, so no real node is ever locked by a warm-up.
pub(crate) fn synthetic_rows(prefix: &str, start: usize, n: usize) -> Vec<GraphRow> {
    let services = ["VPC", "ECS", "IAM", "OBS", "RDS"];
    let ratings = ["normal", "normal", "warning", "incident"];
    (start..start + n)
        .filter_map(|i| {
            let assumed = i % 7 == 0;
            let mut user = serde_json::json!({
                "id": format!("{prefix}uid{}", i % 13),
                "name": format!("{prefix}user{}", i % 13),
                "domain": {"id": format!("{prefix}dom"), "name": "warm-up"},
            });
            if assumed {
                user["assumedBy"] = serde_json::json!({"user": {
                    "id": format!("{prefix}agent{}", i % 5),
                    "name": format!("{prefix}agent{}", i % 5),
                    "domain": {"id": format!("{prefix}partner"), "name": "warm-up partner"},
                }});
            }
            let trace = serde_json::json!({
                "trace_id": format!("{prefix}{i:09}"),
                "trace_name": format!("op{}", i % 11),
                "trace_rating": format!("{prefix}{}", ratings[i % ratings.len()]),
                "trace_type": if i % 3 == 0 { "ConsoleAction" } else { "ApiCall" },
                "code": if i % 9 == 4 { "403" } else { "200" },
                "time": 1_700_000_000_000_i64 + i as i64,
                "record_time": 1_700_000_000_500_i64 + i as i64,
                "user": user,
                "service_type": format!("{prefix}{}", services[i % services.len()]),
                "resource_type": "thing",
                "resource_id": format!("{prefix}res{}", i % 97),
                "resource_name": format!("name{}", i % 97),
                "source_ip": format!("{prefix}10.0.{}.{}", i % 7, i % 31),
                "request_id": format!("{prefix}req{i}"),
                "request": format!("{{\"n\":{i},\"warm\":\"up\"}}"),
                "response": "{\"ok\":true}",
                "message": "warm-up",
            });
            let trace: cts_client::Trace = serde_json::from_value(trace).ok()?;
            let context =
                TraceContext::new(format!("{prefix}proj{}", i % 3), format!("{prefix}region"))
                    .with_domain(format!("{prefix}dom"), Some("warm-up".into()));
            map_trace(&trace, &context).ok()
        })
        .collect()
}

impl GraphWriter {
    /// Warms a cold server: runs the write statement with the batch sizes of
    /// `plan` on synthetic traces, each transaction **rolled back**, until
    /// the budget or the trace count is spent (see the module documentation
    /// of `trace_graph::warmup`). Nothing becomes visible to readers.
    ///
    /// Call it once after [`GraphWriter::ensure_schema`] and before traffic.
    /// Errors are those of [`GraphWriter::write`], without retries: a failed
    /// warm-up leaves the writer as usable as before, only colder.
    pub async fn warm_up(&self, plan: &WarmUp) -> Result<WarmUpReport, Error> {
        let started = Instant::now();
        let prefix = format!("tg-warmup-{:016x}-", rand::random::<u64>());
        let sizes: Vec<usize> = plan
            .batch_sizes
            .iter()
            .map(|&s| s.clamp(1, self.config.batch_size.max(1)))
            .collect();
        let mut report = WarmUpReport::default();
        if sizes.is_empty() {
            return Ok(report);
        }
        let streams = plan.streams.clamp(1, self.config.max_connections.max(1));
        let mut round = Vec::with_capacity(sizes.len());
        let mut rounds = Vec::new();
        'outer: loop {
            round.clear();
            for &size in &sizes {
                if started.elapsed() >= plan.budget || report.traces >= plan.max_traces {
                    break 'outer;
                }
                // One transaction per stream, at once, each with keys of its own (two
                // uncommitted creations of one key would wait for each other).
                // The very first transaction runs alone: it makes the server plan the
                // statement, which concurrent first transactions would each do.
                let streams = if report.transactions == 0 { 1 } else { streams };
                let params: Vec<_> = (0..streams)
                    .map(|k| {
                        let rows = synthetic_rows(&format!("{prefix}s{k}-"), report.traces, size);
                        write_params(&Batch::build(rows.iter()))
                    })
                    .collect();
                let t = Instant::now();
                let results =
                    futures::future::join_all(params.iter().map(|p| self.run_rolled_back(p))).await;
                for result in results {
                    result.map_err(|f| to_error(&self.config, 1, f))?;
                }
                let took = t.elapsed();
                if report.transactions == 0 {
                    report.first = took;
                }
                report.transactions += streams;
                report.traces += size * streams;
                let size = size * streams;
                round.push((took, size));
            }
            let (time, traces) = round
                .iter()
                .fold((Duration::ZERO, 0), |(d, n), (t, s)| (d + *t, n + s));
            let per_trace = time / traces.max(1) as u32;
            if rounds.is_empty() {
                report.first_per_trace = per_trace;
            }
            report.last_per_trace = per_trace;
            rounds.push(per_trace);
            if plan.stop_when_flat && is_flat(&rounds) {
                report.flat = true;
                break;
            }
        }
        report.elapsed = started.elapsed();
        tracing::debug!(
            transactions = report.transactions,
            traces = report.traces,
            elapsed_ms = report.elapsed.as_millis() as u64,
            first_ms = report.first.as_millis() as u64,
            first_per_trace_us = report.first_per_trace.as_micros() as u64,
            last_per_trace_us = report.last_per_trace.as_micros() as u64,
            "warm-up done"
        );
        Ok(report)
    }

    /// Runs the write statement and rolls the transaction back.
    async fn run_rolled_back(&self, params: &[(&'static str, BoltType)]) -> Result<(), Failure> {
        let fail = |e: neo4rs::Error| classify(&e);
        let mut txn = self.graph.start_txn().await.map_err(fail)?;
        txn.run(query(cypher::WRITE).params(params.iter().cloned()))
            .await
            .map_err(fail)?;
        txn.rollback().await.map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_rows_map_and_cover_every_relationship() {
        let rows = synthetic_rows("tg-warmup-0-", 0, 40);
        assert_eq!(rows.len(), 40, "every synthetic trace maps");
        assert!(rows
            .iter()
            .all(|r| r.action.trace_id.starts_with("tg-warmup-0-")));
        assert!(rows.iter().any(|r| r.assumed_by.is_some()));
        assert!(rows
            .iter()
            .all(|r| r.resource.is_some() && r.source_ip.is_some()));
        let batch = Batch::build(rows.iter());
        assert!(batch.users.len() < 40, "users are shared between traces");
        assert!(batch.users.keys().all(|k| k.contains("tg-warmup-0-")));
        assert!(batch.resources.keys().all(|k| k.contains("tg-warmup-0-")));
        assert!(batch.services.iter().all(|k| k.starts_with("tg-warmup-0-")));
        assert!(batch.ips.iter().all(|k| k.starts_with("tg-warmup-0-")));
        assert!(batch.statuses.iter().all(|k| k.starts_with("tg-warmup-0-")));
        assert!(batch.regions.iter().all(|k| k.starts_with("tg-warmup-0-")));
        assert!(batch.domains.keys().all(|k| k.starts_with("tg-warmup-0-")));
        assert!(batch.tenants.keys().all(|k| k.starts_with("tg-warmup-0-")));
    }

    #[test]
    fn flat_means_five_rounds_without_a_tenth_off_the_best() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&m| Duration::from_millis(m))
                .collect::<Vec<_>>()
        };
        assert!(!is_flat(&ms(&[10, 10, 10, 10, 10])), "too few rounds");
        assert!(is_flat(&ms(&[10, 10, 10, 10, 10, 10])), "a warm server");
        assert!(
            is_flat(&ms(&[100, 50, 20, 19, 20, 19, 20, 19])),
            "falling, then flat"
        );
        assert!(!is_flat(&ms(&[100, 90, 80, 70, 60, 50])), "still falling");
        assert!(
            !is_flat(&ms(&[10, 10, 10, 10, 10, 8])),
            "one round 20 % faster"
        );
    }

    #[test]
    fn the_default_plan_covers_single_events_and_full_batches() {
        let plan = WarmUp::for_batch_size(500);
        assert_eq!(plan.batch_sizes, vec![1, 20, 500]);
        assert!(plan.budget > Duration::ZERO && plan.max_traces > 0);
    }
}
