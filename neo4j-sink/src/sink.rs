//! The running sink: start the background work, serve, shut down in bounds.
//!
//! [`Sink::start`] wires the parts (metrics, readiness loop, batcher, token
//! verifier) around a [`Store`]; [`Sink::serve`] runs the HTTP server until
//! the shutdown future resolves, then stops accepting connections, lets the
//! requests in flight get their commit and answer, drains the batcher, and
//! returns within `SHUTDOWN_TIMEOUT_SECS` whatever happens.

use crate::auth::Verifier;
use crate::batcher::Batcher;
use crate::config::Settings;
use crate::event::EventRules;
use crate::metrics::Metrics;
use crate::readiness::{prepare_until_ready, watch, Readiness, Target};
use crate::server::{app, AppState, Limits};
use crate::store::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Why the sink could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting is unusable (the binary exits with 78).
    #[error("{0}")]
    Config(String),
    /// The metrics registry refused a metric (a bug).
    #[error("cannot set up the metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// How the shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Every request in flight was answered and the queue is empty.
    Drained,
    /// `SHUTDOWN_TIMEOUT_SECS` passed first; this many events were still waiting.
    TimedOut {
        /// Events not committed when the bound was reached.
        pending_events: usize,
    },
}

/// A started sink, ready to serve.
#[derive(Debug)]
pub struct Sink {
    state: AppState,
    batcher_task: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    shutdown_timeout: Duration,
}

impl Sink {
    /// Starts the background work: the Neo4j startup loop and pinger, the
    /// batcher and, if configured, the OIDC key loader.
    pub async fn start(settings: &Settings, store: Arc<dyn Store>) -> Result<Sink, StartError> {
        let metrics = Metrics::new()?;
        let readiness = Arc::new(Readiness::default());
        let mut background = Vec::new();
        let verifier = match &settings.oidc {
            Some(oidc) => {
                let v = Verifier::new(oidc.clone(), metrics.clone())
                    .await
                    .map_err(StartError::Config)?;
                background.push(v.spawn_refresh());
                Some(v)
            }
            None => None,
        };
        let target = Target {
            uri: settings.neo4j.uri.clone(),
            user: settings.neo4j.user.clone(),
            timeout: settings.neo4j.connect_timeout,
            warmup: settings.neo4j.warmup,
        };
        background.push(tokio::spawn(prepare_until_ready(
            store.clone(),
            readiness.clone(),
            metrics.clone(),
            target.clone(),
        )));
        background.push(tokio::spawn(watch(
            store.clone(),
            readiness.clone(),
            metrics.clone(),
            target,
            settings.ready_check_interval,
        )));
        let (batcher, batcher_task) =
            Batcher::start(store, settings.batch.clone(), metrics.clone())
                .map_err(|e| StartError::Config(e.to_string()))?;
        let state = AppState {
            batcher,
            readiness,
            metrics,
            verifier,
            rules: Arc::new(EventRules {
                accepted_type_prefixes: settings.accepted_type_prefixes.clone(),
            }),
            limits: Limits {
                max_body_bytes: settings.max_body_bytes,
                inflight_bytes: Arc::new(tokio::sync::Semaphore::new(settings.queue_max_bytes)),
                retry_after_unavailable: settings.retry_after_unavailable,
                retry_after_queue_full: settings.retry_after_queue_full,
            },
        };
        Ok(Sink {
            state,
            batcher_task,
            background,
            shutdown_timeout: settings.shutdown_timeout,
        })
    }

    /// The shared state (for tests and for building the router elsewhere).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` until `shutdown` resolves, then shuts down within
    /// the configured bound.
    pub async fn serve<F>(self, listener: TcpListener, shutdown: F) -> std::io::Result<Shutdown>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Sink {
            state,
            batcher_task,
            background,
            shutdown_timeout,
        } = self;
        let started = Arc::new(Notify::new());
        let readiness = state.readiness.clone();
        let signal = {
            let started = started.clone();
            async move {
                shutdown.await;
                readiness.mark_shutting_down();
                tracing::info!(
                    "shutting down: no new connections; answering the requests in flight"
                );
                started.notify_one();
            }
        };
        let batcher = state.batcher.clone();
        let router = app(state);
        let drain = {
            let batcher = batcher.clone();
            async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(signal)
                    .await?;
                batcher.close();
                // A panic in the dispatcher already failed its requests; nothing more to do here.
                let _ = batcher_task.await;
                Ok::<_, std::io::Error>(())
            }
        };
        let bound = async {
            started.notified().await;
            tokio::time::sleep(shutdown_timeout).await;
        };
        let result = tokio::select! {
            r = drain => r.map(|()| Shutdown::Drained),
            () = bound => Ok(Shutdown::TimedOut { pending_events: batcher.depth() }),
        };
        for task in background {
            task.abort();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RawArgs;
    use crate::testing::MemoryStore;
    use clap::{CommandFactory, FromArgMatches};

    fn settings(args: &[&str]) -> Settings {
        let cmd = RawArgs::command().mut_args(|a| a.env(None));
        let all = ["neo4j-sink", "--neo4j-password=pw"]
            .into_iter()
            .chain(args.iter().copied());
        let matches = cmd.try_get_matches_from(all).expect("flags");
        RawArgs::from_arg_matches(&matches)
            .expect("args")
            .validate()
            .expect("valid")
    }

    type Served = (
        String,
        AppState,
        tokio::sync::oneshot::Sender<()>,
        JoinHandle<std::io::Result<Shutdown>>,
    );

    async fn serve(store: Arc<MemoryStore>, args: &[&str]) -> Served {
        let sink = Sink::start(&settings(args), store).await.expect("starts");
        let state = sink.state().clone();
        while !state.readiness.accepts_events() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(sink.serve(listener, async move {
            let _ = rx.await;
        }));
        (base, state, tx, task)
    }

    async fn queued(state: &AppState, n: usize) {
        while state.batcher.depth() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn send(base: &str, id: &str) -> JoinHandle<Option<u16>> {
        let body = serde_json::json!({"specversion": "1.0", "id": id, "source": "s", "type": "com.otc.cts.trace.x",
            "project": "p", "region": "r", "data": {"trace_id": id, "time": 1}});
        let req = reqwest::Client::new()
            .post(base)
            .header("content-type", "application/cloudevents+json")
            .body(body.to_string());
        tokio::spawn(async move { req.send().await.ok().map(|r| r.status().as_u16()) })
    }

    #[tokio::test]
    async fn shutdown_answers_requests_in_flight_then_drains() {
        let store = Arc::new(MemoryStore::closed());
        let (base, state, stop, task) = serve(store.clone(), &["--shutdown-timeout-secs=10"]).await;
        let in_flight = send(&base, "a");
        queued(&state, 1).await;
        stop.send(()).expect("signal");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !state.readiness.report().ready,
            "not ready once shutdown began"
        );
        store.open();
        assert_eq!(in_flight.await.expect("joined"), Some(202));
        assert_eq!(
            task.await.expect("joined").expect("served"),
            Shutdown::Drained
        );
        assert_eq!(store.written_ids(), vec!["a"]);
    }

    #[tokio::test]
    async fn shutdown_is_bounded_when_neo4j_hangs() {
        let store = Arc::new(MemoryStore::closed());
        let (base, state, stop, task) = serve(store.clone(), &["--shutdown-timeout-secs=1"]).await;
        let _in_flight = send(&base, "stuck");
        queued(&state, 1).await;
        stop.send(()).expect("signal");
        let started = std::time::Instant::now();
        let result = task.await.expect("joined").expect("served");
        assert_eq!(result, Shutdown::TimedOut { pending_events: 1 });
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}
