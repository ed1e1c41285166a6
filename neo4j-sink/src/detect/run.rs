//! The detector loop: every interval, evaluate the enabled rules over the
//! actions stored since the position (minus the overlap), store new
//! findings, move the position, then send every unsent finding.
//!
//! Order, and why a crash at any moment loses and repeats nothing:
//! 1. `now` is read from the database clock (the one `storedAt` uses);
//! 2. every rule runs and its findings are stored (MERGE on a deterministic
//!    id: a rerun finds the same ids and creates nothing);
//! 3. only then is the position saved as `now`, so a crash before it reruns
//!    the same window and a crash after it has all findings stored;
//! 4. unsent findings (label `Unsent`) are sent one by one and marked sent
//!    only after a 2xx. A crash between the 2xx and the mark resends that one
//!    finding after the restart, with the same CloudEvent id (at-least-once).

use super::send::{FindingEvent, FindingSender, SendError};
use super::DetectSettings;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use trace_graph::detect::{self, Finding};
use trace_graph::{Error, GraphWriter};

/// Findings sent per batch read from the graph.
const SEND_BATCH: i64 = 500;

/// The detector's Prometheus metrics (names in docs/detections.md).
#[derive(Debug, Clone)]
pub struct DetectMetrics {
    registry: Registry,
    /// `neo4j_sink_findings_total{rule,severity}`: new findings stored.
    pub findings: IntCounterVec,
    /// `neo4j_sink_findings_sent_total{outcome}`: `sent`, `refused`, `unavailable`.
    pub sent: IntCounterVec,
    /// `neo4j_sink_detect_runs_total{outcome}`: `ok` or `failed`.
    pub runs: IntCounterVec,
    /// `neo4j_sink_detect_run_duration_seconds`: one whole run, sending included.
    pub run_duration: Histogram,
    /// `neo4j_sink_detect_rule_duration_seconds{rule}`: one rule's query and store.
    pub rule_duration: HistogramVec,
    /// `neo4j_sink_detect_lag_seconds`: database time now minus the position, after a run.
    pub lag: Gauge,
    /// `neo4j_sink_findings_unsent`: findings waiting to be sent after a run.
    pub unsent: IntGauge,
}

impl DetectMetrics {
    /// Registers every metric in a fresh registry.
    ///
    /// Errors: a metric cannot be registered (a bug).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let findings = IntCounterVec::new(
            Opts::new(
                "neo4j_sink_findings_total",
                "New findings stored, by rule and severity",
            ),
            &["rule", "severity"],
        )?;
        let sent = IntCounterVec::new(
            Opts::new(
                "neo4j_sink_findings_sent_total",
                "Finding CloudEvents, by outcome",
            ),
            &["outcome"],
        )?;
        let runs = IntCounterVec::new(
            Opts::new("neo4j_sink_detect_runs_total", "Detector runs, by outcome"),
            &["outcome"],
        )?;
        let buckets = vec![
            0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
        ];
        let run_duration = Histogram::with_opts(
            HistogramOpts::new(
                "neo4j_sink_detect_run_duration_seconds",
                "Duration of one detector run, sending included",
            )
            .buckets(buckets.clone()),
        )?;
        let rule_duration = HistogramVec::new(
            HistogramOpts::new(
                "neo4j_sink_detect_rule_duration_seconds",
                "Duration of one rule's query and the storing of its findings",
            )
            .buckets(buckets),
            &["rule"],
        )?;
        let lag = Gauge::new(
            "neo4j_sink_detect_lag_seconds",
            "Database time minus the detector's position at the end of the last run",
        )?;
        let unsent = IntGauge::new(
            "neo4j_sink_findings_unsent",
            "Findings not yet delivered at the end of the last run",
        )?;
        registry.register(Box::new(findings.clone()))?;
        registry.register(Box::new(sent.clone()))?;
        registry.register(Box::new(runs.clone()))?;
        registry.register(Box::new(run_duration.clone()))?;
        registry.register(Box::new(rule_duration.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        registry.register(Box::new(unsent.clone()))?;
        Ok(DetectMetrics {
            registry,
            findings,
            sent,
            runs,
            run_duration,
            rule_duration,
            lag,
            unsent,
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Shared state of the health endpoints.
#[derive(Debug, Clone)]
pub struct Health {
    /// The metrics to render.
    pub metrics: DetectMetrics,
    /// True after a successful run, false after a failed one.
    pub ready: Arc<AtomicBool>,
}

/// `/healthz` (alive: 200 while the process serves), `/readyz` (200 after a
/// successful run, 503 while the last run failed) and `/metrics`.
pub fn health_app(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(h): State<Health>| async move {
                if h.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready\n")
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "no successful run yet, or the last run failed\n",
                    )
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(h): State<Health>| async move { h.metrics.render() }),
        )
        .with_state(health)
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// New findings per rule.
    pub new_findings: BTreeMap<String, usize>,
    /// Findings delivered (2xx) in this run.
    pub sent: usize,
    /// Findings still unsent after the run.
    pub unsent: usize,
}

/// The detector: settings, graph, sender, metrics.
pub struct Detector {
    /// Settings.
    pub settings: DetectSettings,
    /// The graph.
    pub writer: GraphWriter,
    /// Where findings go.
    pub sender: Arc<dyn FindingSender>,
    /// Metrics.
    pub metrics: DetectMetrics,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Detector {
    /// The stored position, or (first start) `now - lookback`, saved at once
    /// so that a restart before the first run completes starts at the same point.
    ///
    /// Errors: Neo4j errors.
    pub async fn start_position(&self) -> Result<i64, Error> {
        if let Some(p) = detect::load_position(&self.writer, &self.settings.name).await? {
            return Ok(p);
        }
        let now = detect::db_now_ms(&self.writer).await?;
        let start = now - self.settings.lookback_ms;
        detect::save_position(&self.writer, &self.settings.name, start).await?;
        tracing::info!(detector = %self.settings.name, position_ms = start, "first start: position saved");
        Ok(start)
    }

    /// Plans every enabled rule's query before the first run: each rule runs
    /// once over an empty window (actions stored after the database's
    /// current time), so Neo4j compiles and caches the plans, and the first
    /// real run does not pay for planning; the position and unsent-findings
    /// reads run once too. Nothing is written. Returns how long it took.
    ///
    /// Errors: Neo4j errors (the caller may go on: the first run plans then).
    pub async fn warm_up(&self) -> Result<std::time::Duration, Error> {
        let started = Instant::now();
        let s = &self.settings;
        // An hour ahead of the database clock: no action is stored there.
        let since = detect::db_now_ms(&self.writer).await? + 3_600_000;
        for rule in s.rules.enabled() {
            detect::evaluate(&self.writer, rule, &s.rules, since, &s.projects).await?;
        }
        // The run's other read queries, for the same reason.
        detect::load_position(&self.writer, &s.name).await?;
        detect::unsent(&self.writer, &s.name, 1).await?;
        Ok(started.elapsed())
    }

    /// One run: rules, findings, position, sending.
    ///
    /// Errors: Neo4j errors (the run is repeated at the next interval; nothing is lost).
    pub async fn run_once(&self) -> Result<RunReport, Error> {
        let started = Instant::now();
        let s = &self.settings;
        let position = self.start_position().await?;
        let now = detect::db_now_ms(&self.writer).await?;
        let since = position - s.overlap_ms;
        let mut report = RunReport::default();
        for rule in s.rules.enabled() {
            let t = Instant::now();
            let found = detect::evaluate(&self.writer, rule, &s.rules, since, &s.projects).await?;
            let created = detect::record(&self.writer, &s.name, rule, &found).await?;
            self.metrics
                .rule_duration
                .with_label_values(&[rule.name])
                .observe(t.elapsed().as_secs_f64());
            if created > 0 {
                self.metrics
                    .findings
                    .with_label_values(&[rule.name, rule.severity.as_str()])
                    .inc_by(created as u64);
                tracing::info!(
                    rule = rule.name,
                    severity = rule.severity.as_str(),
                    new = created,
                    "new findings"
                );
            }
            report.new_findings.insert(rule.name.to_owned(), created);
        }
        detect::save_position(&self.writer, &s.name, now).await?;
        let (sent, unsent) = self.send_unsent().await?;
        report.sent = sent;
        report.unsent = unsent;
        let end = detect::db_now_ms(&self.writer).await.unwrap_or(now);
        self.metrics.lag.set((end - now) as f64 / 1000.0);
        self.metrics.unsent.set(unsent as i64);
        self.metrics
            .run_duration
            .observe(started.elapsed().as_secs_f64());
        Ok(report)
    }

    /// Sends every unsent finding, oldest first; returns (sent, still unsent).
    /// A refused finding is skipped (and tried again next run); an unavailable
    /// receiver ends the sending for this run.
    async fn send_unsent(&self) -> Result<(usize, usize), Error> {
        let mut sent = 0;
        let mut skipped = 0usize;
        loop {
            let batch = detect::unsent(
                &self.writer,
                &self.settings.name,
                SEND_BATCH + skipped as i64,
            )
            .await?;
            let todo: Vec<&Finding> = batch.iter().skip(skipped).collect();
            if todo.is_empty() {
                return Ok((sent, batch.len()));
            }
            for f in todo {
                let event = self.event(f);
                match self.sender.send(&event).await {
                    Ok(()) => {
                        detect::mark_sent(&self.writer, &f.id).await?;
                        self.metrics.sent.with_label_values(&["sent"]).inc();
                        sent += 1;
                    }
                    Err(e @ SendError::Refused { .. }) => {
                        self.metrics.sent.with_label_values(&["refused"]).inc();
                        tracing::error!(finding = %f.id, error = %e, "finding refused by K_SINK; kept unsent, tried again next run");
                        skipped += 1;
                    }
                    Err(e @ SendError::Unavailable { .. }) => {
                        self.metrics.sent.with_label_values(&["unavailable"]).inc();
                        tracing::warn!(finding = %f.id, error = %e, "K_SINK unavailable; unsent findings wait for the next run");
                        let left =
                            detect::unsent(&self.writer, &self.settings.name, 1_000_000).await?;
                        return Ok((sent, left.len()));
                    }
                }
            }
        }
    }

    /// The CloudEvent of a finding.
    pub fn event(&self, f: &Finding) -> FindingEvent {
        let rule = detect::find(&f.rule);
        let data = serde_json::json!({
            "finding": f.id,
            "rule": f.rule,
            "title": rule.map(|r| r.title),
            "severity": f.severity,
            "summary": f.summary,
            "key": f.key,
            "actions": f.actions,
            "users": f.users,
            "resources": f.resources,
            "ips": f.ips,
            "createdAt": f.created_at,
            "detector": self.settings.name,
            "evidenceQuery": f.evidence_query(),
        });
        let mut extensions = BTreeMap::new();
        extensions.insert("severity".to_owned(), f.severity.clone());
        FindingEvent {
            id: f.id.clone(),
            event_type: format!("com.otc.cts.finding.{}", f.rule),
            source: format!("/neo4j-sink/detect/{}", self.settings.name),
            subject: f.rule.clone(),
            time: f.created_at.clone(),
            extensions,
            data,
        }
    }
}
