//! Readiness: is Neo4j reachable and the schema in place?
//!
//! Neo4j being down at start is normal in a cluster (it may start after the
//! sink), so it is not fatal: [`prepare_until_ready`] keeps trying with
//! backoff while `/readyz` says 503 and event requests get 503. Every failed
//! attempt is logged with a message a person can act on (wrong credentials
//! name NEO4J_USER / NEO4J_PASSWORD, an unreachable host names NEO4J_URI and
//! the time limit). Once ready, [`watch`] pings Neo4j periodically so
//! `/readyz` follows the database's health.

use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared readiness state.
#[derive(Debug, Default)]
pub struct Readiness {
    schema_ready: AtomicBool,
    reachable: AtomicBool,
    shutting_down: AtomicBool,
    last_error: Mutex<Option<String>>,
}

/// The `/readyz` body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReadyReport {
    /// Ready to accept events.
    pub ready: bool,
    /// The schema was created.
    pub schema_ready: bool,
    /// The last check reached Neo4j.
    pub neo4j_reachable: bool,
    /// Shutdown has begun.
    pub shutting_down: bool,
    /// Why not ready, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Readiness {
    /// Event requests are accepted once the schema is in place and until shutdown.
    pub fn accepts_events(&self) -> bool {
        self.schema_ready.load(Ordering::Acquire) && !self.shutting_down.load(Ordering::Acquire)
    }

    /// The `/readyz` view.
    pub fn report(&self) -> ReadyReport {
        let schema_ready = self.schema_ready.load(Ordering::Acquire);
        let neo4j_reachable = self.reachable.load(Ordering::Acquire);
        let shutting_down = self.shutting_down.load(Ordering::Acquire);
        ReadyReport {
            ready: schema_ready && neo4j_reachable && !shutting_down,
            schema_ready,
            neo4j_reachable,
            shutting_down,
            error: self.last_error(),
        }
    }

    /// The last Neo4j error seen by the startup loop or the pinger.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }

    /// Marks the schema as created and Neo4j as reachable.
    pub fn mark_ready(&self) {
        self.reachable.store(true, Ordering::Release);
        self.schema_ready.store(true, Ordering::Release);
        self.set_error(None);
    }

    /// Marks the start of the shutdown: no new events.
    pub fn mark_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    fn record(&self, result: &Result<(), StoreError>) -> bool {
        let ok = result.is_ok();
        let was = self.reachable.swap(ok, Ordering::AcqRel);
        self.set_error(result.as_ref().err().map(ToString::to_string));
        was != ok
    }
}

/// An explanation of a store error for the operator, naming the settings involved.
pub fn explain(error: &StoreError, uri: &str, user: &str, timeout: Duration) -> String {
    match error {
        StoreError::Auth(m) => format!(
            "Neo4j at {uri} refused user {user:?}: {m}; check NEO4J_USER and NEO4J_PASSWORD"
        ),
        StoreError::Unreachable(m) | StoreError::Transient(m)
            if m.contains("TLS certificate was refused") =>
        {
            format!(
                "Neo4j at {uri} answered with a TLS certificate this sink does not trust: {m}; \
                 here that means NEO4J_CA_CERT (the CA's PEM file) or a +ssc scheme in NEO4J_URI"
            )
        }
        StoreError::Unreachable(m) | StoreError::Transient(m) => format!(
            "Neo4j at {uri} is not reachable: {m}; check NEO4J_URI and that Neo4j is running \
             (one connection attempt may take up to NEO4J_CONNECT_TIMEOUT_SECS={}s)",
            timeout.as_secs()
        ),
        other => format!("Neo4j at {uri}: {other}"),
    }
}

/// Where the startup loop connects, for messages.
#[derive(Debug, Clone)]
pub struct Target {
    /// NEO4J_URI.
    pub uri: String,
    /// NEO4J_USER.
    pub user: String,
    /// Limit of one attempt.
    pub timeout: Duration,
    /// NEO4J_WARMUP_SECS (zero: no warm-up).
    pub warmup: Duration,
}

async fn attempt(store: &dyn Store, target: &Target, ping: bool) -> Result<(), StoreError> {
    // Creating the schema may wait for indexes to come online: give it longer.
    let limit = if ping {
        target.timeout
    } else {
        (target.timeout * 2).max(Duration::from_secs(60))
    };
    let call = async {
        if ping {
            store.ping().await
        } else {
            store.prepare().await
        }
    };
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r,
        Err(_) => Err(StoreError::Unreachable(format!(
            "no answer within {}s",
            limit.as_secs()
        ))),
    }
}

/// Connects and creates the schema, retrying with backoff (1 s doubling to
/// 30 s) until it works; then marks the sink ready.
pub async fn prepare_until_ready(
    store: Arc<dyn Store>,
    readiness: Arc<Readiness>,
    metrics: Metrics,
    target: Target,
) {
    let mut delay = Duration::from_secs(1);
    loop {
        let result = attempt(store.as_ref(), &target, false).await;
        match &result {
            Ok(()) => {
                // Bounded by its own budget; the extra minute covers one slow transaction.
                let limit = target.warmup + Duration::from_secs(60);
                match tokio::time::timeout(limit, store.warm_up()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "warming up Neo4j failed; the first events will be slower")
                    }
                    Err(_) => tracing::warn!(
                        limit_secs = limit.as_secs(),
                        "warming up Neo4j did not finish in time; the first events will be slower"
                    ),
                }
                readiness.mark_ready();
                metrics.ready.set(1);
                tracing::info!(neo4j_uri = %target.uri, "connected to Neo4j; schema in place; accepting events");
                return;
            }
            Err(e) => {
                metrics.neo4j_errors.with_label_values(&[e.kind()]).inc();
                let message = explain(e, &target.uri, &target.user, target.timeout);
                readiness.record(&result);
                readiness.set_error(Some(message.clone()));
                match e {
                    StoreError::Auth(_) | StoreError::Permanent(_) => {
                        tracing::error!(error = %message, retry_in_secs = delay.as_secs(), "Neo4j not usable")
                    }
                    _ => {
                        tracing::warn!(error = %message, retry_in_secs = delay.as_secs(), "Neo4j not ready yet")
                    }
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// Pings Neo4j every `interval` once ready, logging changes of reachability.
pub async fn watch(
    store: Arc<dyn Store>,
    readiness: Arc<Readiness>,
    metrics: Metrics,
    target: Target,
    interval: Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !readiness.schema_ready.load(Ordering::Acquire) {
            continue;
        }
        let result = attempt(store.as_ref(), &target, true).await;
        if let Err(e) = &result {
            metrics.neo4j_errors.with_label_values(&[e.kind()]).inc();
        }
        let changed = readiness.record(&result);
        metrics.ready.set(i64::from(readiness.report().ready));
        match (&result, changed) {
            (Ok(()), true) => tracing::info!(neo4j_uri = %target.uri, "Neo4j reachable again"),
            (Err(e), true) => tracing::warn!(
                error = %explain(e, &target.uri, &target.user, target.timeout),
                "Neo4j unreachable; /readyz reports not ready"
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;

    fn target() -> Target {
        Target {
            uri: "neo4j://db:7687".into(),
            user: "neo4j".into(),
            timeout: Duration::from_secs(1),
            warmup: Duration::ZERO,
        }
    }

    #[test]
    fn explanations_name_the_settings() {
        let m = explain(
            &StoreError::Auth("unauthorized".into()),
            "neo4j://db:7687",
            "neo4j",
            Duration::from_secs(10),
        );
        assert!(
            m.contains("NEO4J_PASSWORD") && m.contains("\"neo4j\""),
            "{m}"
        );
        let m = explain(
            &StoreError::Unreachable("refused".into()),
            "neo4j://db:7687",
            "neo4j",
            Duration::from_secs(10),
        );
        assert!(
            m.contains("NEO4J_URI") && m.contains("10s") && m.contains("neo4j://db:7687"),
            "{m}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn keeps_trying_until_neo4j_answers() {
        let store = Arc::new(MemoryStore::default());
        *store.fail.lock().expect("lock") =
            Some(StoreError::Unreachable("connection refused".into()));
        let readiness = Arc::new(Readiness::default());
        let metrics = Metrics::new().expect("metrics");
        let task = tokio::spawn(prepare_until_ready(
            store.clone(),
            readiness.clone(),
            metrics.clone(),
            target(),
        ));
        tokio::time::sleep(Duration::from_secs(5)).await;
        let report = readiness.report();
        assert!(!report.ready && !readiness.accepts_events());
        assert!(
            report
                .error
                .as_deref()
                .is_some_and(|e| e.contains("connection refused")),
            "{report:?}"
        );
        assert!(
            metrics
                .neo4j_errors
                .with_label_values(&["unreachable"])
                .get()
                >= 2
        );
        *store.fail.lock().expect("lock") = None;
        tokio::time::sleep(Duration::from_secs(31)).await;
        task.await.expect("finished");
        assert!(readiness.report().ready && readiness.accepts_events());
        assert_eq!(
            *store.warm_ups.lock().expect("lock"),
            vec![true],
            "warmed up once, after the schema, before ready"
        );
        readiness.mark_shutting_down();
        assert!(!readiness.report().ready && !readiness.accepts_events());
    }
}
