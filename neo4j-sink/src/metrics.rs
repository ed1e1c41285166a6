//! The sink's Prometheus metrics, all declared here.
//!
//! One registry per sink instance (not the global default), so tests can run
//! several sinks in one process and scrape each. Every metric is listed in
//! docs/sink.md; the names follow `neo4j_sink_<noun>_<unit>`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Values of the `outcome` label of `neo4j_sink_events_total`.
pub mod outcome {
    /// Committed to Neo4j (answered 202 or part of a partly refused batch).
    pub const STORED: &str = "stored";
    /// Arrived while an event with the same key was in flight; written once with it.
    pub const DUPLICATE: &str = "duplicate";
    /// Refused at decoding (400): not storable ever.
    pub const INVALID: &str = "invalid";
    /// Refused by the store for its data (400).
    pub const REJECTED: &str = "rejected";
    /// The write failed (503 or 500); the sender retries.
    pub const FAILED: &str = "failed";
    /// Refused because the queue was full (429).
    pub const QUEUE_FULL: &str = "queue_full";
    /// All values, for pre-registering the label set.
    pub const ALL: [&str; 6] = [STORED, DUPLICATE, INVALID, REJECTED, FAILED, QUEUE_FULL];
}

/// Handles to every metric of the sink.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `neo4j_sink_events_total{outcome}`.
    pub events: IntCounterVec,
    /// `neo4j_sink_batch_size`.
    pub batch_size: Histogram,
    /// `neo4j_sink_write_duration_seconds`.
    pub write_duration: Histogram,
    /// `neo4j_sink_queue_depth`.
    pub queue_depth: IntGauge,
    /// `neo4j_sink_neo4j_errors_total{kind}`.
    pub neo4j_errors: IntCounterVec,
    /// `neo4j_sink_requests_total{code}`.
    pub requests: IntCounterVec,
    /// `neo4j_sink_ready`.
    pub ready: IntGauge,
    /// `neo4j_sink_context_derived_total{field,from}`.
    pub context_derived: IntCounterVec,
    /// `neo4j_sink_auth_refused_total{reason}`: refused OIDC tokens (see [`crate::auth::Reason`]).
    pub auth_refused: IntCounterVec,
    /// `neo4j_sink_auth_key_reloads_total{outcome}`: OIDC key loads, `loaded` or `failed`.
    pub auth_key_reloads: IntCounterVec,
    /// `neo4j_sink_auth_keys`: OIDC signing keys in use.
    pub auth_keys: IntGauge,
    /// `neo4j_sink_auth_keys_stale`: 1 while the last OIDC key load failed and older keys (or none) are in use.
    pub auth_keys_stale: IntGauge,
}

impl Metrics {
    /// Creates and registers every metric in a fresh registry.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let events = IntCounterVec::new(
            Opts::new(
                "neo4j_sink_events_total",
                "CloudEvents received, by outcome",
            ),
            &["outcome"],
        )?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new(
                "neo4j_sink_batch_size",
                "Events per Neo4j write transaction",
            )
            .buckets(vec![
                1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 5000.0,
            ]),
        )?;
        let write_duration = Histogram::with_opts(
            HistogramOpts::new(
                "neo4j_sink_write_duration_seconds",
                "Duration of one batch write, retries included",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
        )?;
        let queue_depth = IntGauge::new(
            "neo4j_sink_queue_depth",
            "Events accepted and waiting for their commit",
        )?;
        let neo4j_errors = IntCounterVec::new(
            Opts::new(
                "neo4j_sink_neo4j_errors_total",
                "Failed Neo4j operations, by kind",
            ),
            &["kind"],
        )?;
        let requests = IntCounterVec::new(
            Opts::new(
                "neo4j_sink_requests_total",
                "Event delivery requests (POST /), by status code",
            ),
            &["code"],
        )?;
        let ready = IntGauge::new(
            "neo4j_sink_ready",
            "1 when Neo4j is reachable and the schema is in place",
        )?;
        let auth_refused = IntCounterVec::new(
            Opts::new(
                "neo4j_sink_auth_refused_total",
                "Event requests refused by the OIDC token check, by reason",
            ),
            &["reason"],
        )?;
        let auth_key_reloads = IntCounterVec::new(
            Opts::new(
                "neo4j_sink_auth_key_reloads_total",
                "Loads of the OIDC keys (start, refresh, unknown key id), by outcome",
            ),
            &["outcome"],
        )?;
        let auth_keys = IntGauge::new(
            "neo4j_sink_auth_keys",
            "OIDC signing keys (RS256, ES256) in use",
        )?;
        let auth_keys_stale = IntGauge::new(
            "neo4j_sink_auth_keys_stale",
            "1 while the last load of the OIDC keys failed and the keys of an earlier load (or none) are in use",
        )?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(write_duration.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(neo4j_errors.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        let context_derived = IntCounterVec::new(
            Opts::new(
                "neo4j_sink_context_derived_total",
                "Accepted events whose project, region, domain or status did not come from the \
                 project/region/domain extensions or the trace, by field and where it came from \
                 (placeholder: stored as unknown)",
            ),
            &["field", "from"],
        )?;
        registry.register(Box::new(ready.clone()))?;
        registry.register(Box::new(context_derived.clone()))?;
        for d in crate::context::ALL {
            context_derived.with_label_values(&[d.field, d.from]);
        }
        registry.register(Box::new(auth_refused.clone()))?;
        registry.register(Box::new(auth_key_reloads.clone()))?;
        registry.register(Box::new(auth_keys.clone()))?;
        registry.register(Box::new(auth_keys_stale.clone()))?;
        for reason in crate::auth::Reason::ALL {
            auth_refused.with_label_values(&[reason.label()]);
        }
        for o in ["loaded", "failed"] {
            auth_key_reloads.with_label_values(&[o]);
        }
        for o in outcome::ALL {
            events.with_label_values(&[o]);
        }
        for k in [
            "unreachable",
            "auth",
            "transient",
            "refused",
            "permanent",
            "timeout",
        ] {
            neo4j_errors.with_label_values(&[k]);
        }
        Ok(Metrics {
            registry,
            events,
            batch_size,
            write_duration,
            queue_depth,
            neo4j_errors,
            requests,
            ready,
            context_derived,
            auth_refused,
            auth_key_reloads,
            auth_keys,
            auth_keys_stale,
        })
    }

    /// Adds `n` events with the given outcome.
    pub fn count_events(&self, outcome: &str, n: usize) {
        if n > 0 {
            self.events.with_label_values(&[outcome]).inc_by(n as u64);
        }
    }

    /// Counts one derived context value.
    pub fn count_derived(&self, derived: crate::context::Derived) {
        self.context_derived
            .with_label_values(&[derived.field, derived.from])
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_with_zero_values() {
        let m = Metrics::new().expect("metrics");
        m.count_events(outcome::STORED, 3);
        m.batch_size.observe(3.0);
        let text = m.render().expect("render");
        assert!(
            text.contains("neo4j_sink_events_total{outcome=\"stored\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("neo4j_sink_events_total{outcome=\"invalid\"} 0"),
            "{text}"
        );
        assert!(text.contains("neo4j_sink_batch_size_count 1"), "{text}");
        assert!(text.contains("neo4j_sink_queue_depth 0"), "{text}");
        assert!(
            text.contains("neo4j_sink_neo4j_errors_total{kind=\"transient\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE neo4j_sink_write_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("neo4j_sink_auth_refused_total{reason=\"unknown_key\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("neo4j_sink_auth_key_reloads_total{outcome=\"failed\"} 0"),
            "{text}"
        );
        assert!(text.contains("neo4j_sink_auth_keys_stale 0"), "{text}");
        assert!(text.contains("neo4j_sink_auth_keys 0"), "{text}");
        m.count_derived(crate::context::Derived {
            field: "project",
            from: "tenant_extension",
        });
        let text = m.render().expect("render");
        assert!(
            text.contains(
                "neo4j_sink_context_derived_total{field=\"project\",from=\"tenant_extension\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "neo4j_sink_context_derived_total{field=\"region\",from=\"placeholder\"} 0"
            ),
            "{text}"
        );
    }
}
