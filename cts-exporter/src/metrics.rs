//! Prometheus metrics, all listed here and documented in `docs/events.md`.
//!
//! Counters are atomics updated on the hot path; the text exposition is
//! rendered only when `/metrics` is scraped. Every series carries the label
//! `cloud` (the `OS_CLOUD` entry of its poller, `default` when unset).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Upper bounds of the poll-duration histogram, in seconds.
pub const POLL_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// (name, type, help) of every series, in exposition order.
pub const CATALOG: &[(&str, &str, &str)] = &[
    (
        "cts_exporter_traces_fetched_total",
        "counter",
        "Traces read from CTS (or archive files), duplicates included.",
    ),
    (
        "cts_exporter_duplicates_skipped_total",
        "counter",
        "Traces skipped because their id was already sent within the horizon.",
    ),
    (
        "cts_exporter_events_sent_total",
        "counter",
        "Events handed to the sink (each counted once, however many attempts).",
    ),
    (
        "cts_exporter_events_acknowledged_total",
        "counter",
        "Events the sink answered with 2xx.",
    ),
    (
        "cts_exporter_events_rejected_total",
        "counter",
        "Events refused for good (non-retryable 4xx, or a trace that cannot become an event).",
    ),
    (
        "cts_exporter_traces_undecodable_total",
        "counter",
        "Traces CTS sent that cannot be read (each once); logged, kept in the dead-letter file, not delivered.",
    ),
    (
        "cts_exporter_retries_total",
        "counter",
        "Delivery attempts repeated after a retryable failure.",
    ),
    (
        "cts_exporter_poll_errors_total",
        "counter",
        "Windows whose fetch from CTS failed and will be retried.",
    ),
    (
        "cts_exporter_lag_seconds",
        "gauge",
        "Now minus the watermark: how far behind the exporter is.",
    ),
    (
        "cts_exporter_poll_duration_seconds",
        "histogram",
        "Time to fetch and deliver one window.",
    ),
];

/// The counters of one poller (or one backfill run).
#[derive(Debug)]
pub struct PollerMetrics {
    /// `cts_exporter_traces_fetched_total`.
    pub fetched: AtomicU64,
    /// `cts_exporter_duplicates_skipped_total`.
    pub duplicates: AtomicU64,
    /// `cts_exporter_events_sent_total`.
    pub sent: AtomicU64,
    /// `cts_exporter_events_acknowledged_total`.
    pub acked: AtomicU64,
    /// `cts_exporter_events_rejected_total`.
    pub rejected: AtomicU64,
    /// `cts_exporter_traces_undecodable_total`.
    pub undecodable: AtomicU64,
    /// `cts_exporter_retries_total`, shared with the delivery tasks.
    pub retries: Arc<AtomicU64>,
    /// `cts_exporter_poll_errors_total`.
    pub poll_errors: AtomicU64,
    /// The watermark (epoch ms); `i64::MIN` until known.
    pub watermark_ms: AtomicI64,
    poll: Mutex<Histogram>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Default for PollerMetrics {
    fn default() -> Self {
        PollerMetrics {
            fetched: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            undecodable: AtomicU64::new(0),
            retries: Arc::new(AtomicU64::new(0)),
            poll_errors: AtomicU64::new(0),
            watermark_ms: AtomicI64::new(i64::MIN),
            poll: Mutex::new(Histogram {
                counts: vec![0; POLL_BUCKETS.len()],
                ..Histogram::default()
            }),
        }
    }
}

impl PollerMetrics {
    /// Records the duration of one window.
    pub fn observe_poll(&self, secs: f64) {
        let mut h = self.poll.lock().unwrap_or_else(|p| p.into_inner());
        for (i, b) in POLL_BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Records the watermark.
    pub fn set_watermark(&self, ms: i64) {
        self.watermark_ms.store(ms, Ordering::Relaxed);
    }
}

/// Every poller's metrics, for `/metrics`.
#[derive(Debug, Default)]
pub struct Registry {
    pollers: Mutex<Vec<(String, Arc<PollerMetrics>)>>,
}

impl Registry {
    /// Registers (or returns) the metrics of `cloud`.
    pub fn poller(&self, cloud: &str) -> Arc<PollerMetrics> {
        let mut v = self.pollers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, m)) = v.iter().find(|(c, _)| c == cloud) {
            return Arc::clone(m);
        }
        let m = Arc::new(PollerMetrics::default());
        v.push((cloud.to_string(), Arc::clone(&m)));
        m
    }

    /// The Prometheus text exposition (format 0.0.4) at `now_ms`.
    pub fn render(&self, now_ms: i64) -> String {
        let pollers = self
            .pollers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut out = String::new();
        for (name, kind, help) in CATALOG {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (cloud, m) in &pollers {
                let label = escape(cloud);
                let counter = |a: &AtomicU64| a.load(Ordering::Relaxed);
                let value = match *name {
                    "cts_exporter_traces_fetched_total" => counter(&m.fetched),
                    "cts_exporter_duplicates_skipped_total" => counter(&m.duplicates),
                    "cts_exporter_events_sent_total" => counter(&m.sent),
                    "cts_exporter_events_acknowledged_total" => counter(&m.acked),
                    "cts_exporter_events_rejected_total" => counter(&m.rejected),
                    "cts_exporter_traces_undecodable_total" => counter(&m.undecodable),
                    "cts_exporter_retries_total" => counter(&m.retries),
                    "cts_exporter_poll_errors_total" => counter(&m.poll_errors),
                    "cts_exporter_lag_seconds" => {
                        let wm = m.watermark_ms.load(Ordering::Relaxed);
                        if wm != i64::MIN {
                            let lag = (now_ms - wm).max(0) as f64 / 1000.0;
                            let _ = writeln!(out, "{name}{{cloud=\"{label}\"}} {lag}");
                        }
                        continue;
                    }
                    _ => {
                        let h = m.poll.lock().unwrap_or_else(|p| p.into_inner()).clone();
                        for (b, c) in POLL_BUCKETS.iter().zip(&h.counts) {
                            let _ =
                                writeln!(out, "{name}_bucket{{cloud=\"{label}\",le=\"{b}\"}} {c}");
                        }
                        let _ = writeln!(
                            out,
                            "{name}_bucket{{cloud=\"{label}\",le=\"+Inf\"}} {}",
                            h.count
                        );
                        let _ = writeln!(out, "{name}_sum{{cloud=\"{label}\"}} {}", h.sum);
                        let _ = writeln!(out, "{name}_count{{cloud=\"{label}\"}} {}", h.count);
                        continue;
                    }
                };
                let _ = writeln!(out, "{name}{{cloud=\"{label}\"}} {value}");
            }
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_lag_and_histogram_per_cloud() {
        let r = Registry::default();
        let prod = r.poller("prod");
        prod.fetched.fetch_add(3, Ordering::Relaxed);
        prod.acked.fetch_add(2, Ordering::Relaxed);
        prod.retries.fetch_add(1, Ordering::Relaxed);
        prod.undecodable.fetch_add(4, Ordering::Relaxed);
        prod.set_watermark(10_000);
        prod.observe_poll(0.3);
        assert!(Arc::ptr_eq(&prod, &r.poller("prod")));
        r.poller("staging");
        let text = r.render(70_000);
        assert!(
            text.contains("cts_exporter_traces_fetched_total{cloud=\"prod\"} 3"),
            "{text}"
        );
        assert!(text.contains("cts_exporter_events_acknowledged_total{cloud=\"prod\"} 2"));
        assert!(text.contains("cts_exporter_retries_total{cloud=\"prod\"} 1"));
        assert!(text.contains("cts_exporter_traces_undecodable_total{cloud=\"prod\"} 4"));
        assert!(text.contains("cts_exporter_lag_seconds{cloud=\"prod\"} 60"));
        assert!(
            !text.contains("cts_exporter_lag_seconds{cloud=\"staging\"}"),
            "no watermark yet"
        );
        assert!(text
            .contains("cts_exporter_poll_duration_seconds_bucket{cloud=\"prod\",le=\"0.25\"} 0"));
        assert!(
            text.contains("cts_exporter_poll_duration_seconds_bucket{cloud=\"prod\",le=\"0.5\"} 1")
        );
        assert!(text.contains("cts_exporter_poll_duration_seconds_count{cloud=\"prod\"} 1"));
        assert!(text.contains("cts_exporter_events_sent_total{cloud=\"staging\"} 0"));
        for (name, kind, _) in CATALOG {
            assert!(text.contains(&format!("# TYPE {name} {kind}")), "{name}");
        }
    }
}
