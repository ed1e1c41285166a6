//! The delayed-ACK check: is this build's Bolt driver held by Nagle's algorithm?
//!
//! neo4rs 0.9.0-rc.11 (the newest release) never sets `TCP_NODELAY`. It writes
//! a request larger than its 8 KiB buffer in two pieces; Nagle's algorithm
//! holds the second until the server acknowledges the first, and the server
//! delays that ACK by about 40 ms on Linux. Every batch of the writer would pay
//! that stall. The cloudtrace-exporter workspace patches the driver
//! (`vendor/neo4rs`, `[patch.crates-io]`), but a `[patch]` does not reach the
//! crates that depend on trace-graph: they build the stock driver.
//!
//! So [`GraphWriter::connect`] measures it (unless
//! [`GraphConfig::check_bolt_latency`](crate::GraphConfig::check_bolt_latency)
//! is off): the best of five round trips of a small request and of a 12 KiB
//! one, alternating (`RETURN size($p)`, nothing read or written). When the large one is
//! stalled, it logs one warning per process with the fix, and
//! [`GraphWriter::bolt_latency`] reports the figures.

use crate::writer::GraphWriter;
use neo4rs::{query, BoltType, Graph};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the check found: the best of five round trips of each request size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BoltLatency {
    /// A request of about 100 bytes.
    pub small: Duration,
    /// A request of 12 KiB, more than the driver's 8 KiB write buffer.
    pub large: Duration,
}

/// A large request slower than this, by this much more than a small one,
/// and five times slower, is taken as held by Nagle's algorithm (the stall
/// is 40 ms on Linux, 200 ms on some other systems; a request of 12 KiB
/// without it takes well under a millisecond on a LAN).
const STALL: Duration = Duration::from_millis(25);

/// Requests of each size; the best of them counts.
const ROUNDS: usize = 5;

/// The fix, for the warning and the documentation.
pub(crate) const FIX: &str = "add `[patch.crates-io] neo4rs = { git = \
     \"https://github.com/cloudtrace-exporter/cloudtrace-exporter\" }` (the driver with TCP_NODELAY \
     that trace-graph is tested with, vendor/neo4rs) to the Cargo.toml of your workspace, or turn \
     this check off with GraphConfig::check_bolt_latency = false if you cannot";

impl BoltLatency {
    /// True when large requests wait for the server's delayed ACK: the
    /// driver does not set `TCP_NODELAY` and every batch over 8 KiB loses
    /// about 40 ms.
    pub fn delayed_ack_stall(&self) -> bool {
        self.large >= STALL
            && self.large >= self.small + STALL - Duration::from_millis(5)
            && self.large > self.small * 5
    }
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// One round trip of `RETURN size($p)` with this parameter.
async fn round_trip(graph: &Graph, param: &BoltType) -> Result<Duration, neo4rs::Error> {
    let mut txn = graph.start_txn().await?;
    let started = Instant::now();
    txn.run(query("RETURN size($p) AS n").param("p", param.clone()))
        .await?;
    let took = started.elapsed();
    txn.commit().await?;
    Ok(took)
}

/// Small and large requests alternate, so a server that is still cold or a
/// moment of load affects both; each size keeps its best of [`ROUNDS`].
async fn best_of(graph: &Graph) -> Result<BoltLatency, neo4rs::Error> {
    let small = BoltType::from("x".repeat(100));
    let large = BoltType::from("x".repeat(12 * 1024));
    let mut best = BoltLatency {
        small: Duration::MAX,
        large: Duration::MAX,
    };
    for _ in 0..ROUNDS {
        best.small = best.small.min(round_trip(graph, &small).await?);
        best.large = best.large.min(round_trip(graph, &large).await?);
    }
    Ok(best)
}

/// Measures; `None` when a request failed (the check never fails a connect).
pub(crate) async fn measure(graph: &Graph) -> Option<BoltLatency> {
    match best_of(graph).await {
        Ok(latency) => {
            if latency.delayed_ack_stall() && !WARNED.swap(true, Ordering::Relaxed) {
                // The one warning of this crate: without the fix every batch is ~40 ms slower.
                tracing::warn!(
                    small_request_us = latency.small.as_micros() as u64,
                    large_request_us = latency.large.as_micros() as u64,
                    fix = FIX,
                    "Bolt requests over 8 KiB wait for the server's delayed ACK: the neo4rs in this \
                     build does not set TCP_NODELAY, so every batch loses about 40 ms"
                );
            }
            tracing::debug!(
                small_request_us = latency.small.as_micros() as u64,
                large_request_us = latency.large.as_micros() as u64,
                "Bolt latency checked"
            );
            Some(latency)
        }
        Err(e) => {
            tracing::debug!(error = %e, "Bolt latency check failed; skipped");
            None
        }
    }
}

impl GraphWriter {
    /// What the connect-time latency check found (see the module
    /// documentation of `trace_graph::latency`); `None` when the check was
    /// off or could not run. [`BoltLatency::delayed_ack_stall`] true means
    /// the driver in this build lacks `TCP_NODELAY`; the fix is in
    /// docs/performance.md and in the warning logged once per process.
    pub fn bolt_latency(&self) -> Option<BoltLatency> {
        self.latency
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(small: u64, large: u64) -> BoltLatency {
        BoltLatency {
            small: Duration::from_micros(small),
            large: Duration::from_micros(large),
        }
    }

    #[test]
    fn a_stall_is_a_large_request_far_slower_than_a_small_one() {
        assert!(ms(800, 43_600).delayed_ack_stall(), "the stock driver");
        assert!(!ms(800, 500).delayed_ack_stall(), "with TCP_NODELAY");
        assert!(
            !ms(30_000, 40_000).delayed_ack_stall(),
            "a slow server or network, not Nagle"
        );
        assert!(!ms(100, 3_000).delayed_ack_stall(), "a remote server");
        assert!(
            !ms(6_000, 30_000).delayed_ack_stall(),
            "a cold, loaded server: slow, but not by a stall more"
        );
    }

    #[test]
    fn the_fix_names_the_patch() {
        assert!(FIX.contains("[patch.crates-io]") && FIX.contains("check_bolt_latency"));
    }
}
