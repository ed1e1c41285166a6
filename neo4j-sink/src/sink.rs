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
                let v = Verifier::new(oidc.clone())
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
            Batcher::start(store, settings.batch.clone(), metrics.clone());
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
