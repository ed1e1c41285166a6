//! One poller per (cloud, project, tracker): windows, watermark, state, shutdown.
//!
//! A poller without a saved position saves its starting point before it
//! sends anything, so a restart never starts after a point not yet covered.
//!
//! Each round asks the [`Planner`] for a window reaching back `lateness`
//! before the watermark, streams its traces through the [`Dispatcher`]
//! (which skips ids already delivered and waits while the sink is slow), and
//! only when every trace of the window is acknowledged (or refused for good)
//! moves the watermark to the window's end and saves the state. A failed
//! fetch leaves the watermark where it is, so the window is simply polled
//! again. On shutdown the in-flight sends get a bounded grace period, then
//! the state is saved with the ids delivered so far.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::watch;
use tracing::Instrument;

use crate::dispatcher::Dispatcher;
use crate::metrics::PollerMetrics;
use crate::source::{FetchError, Fetched, TraceSource};
use crate::state::{DeliveredId, PollerState, StateError, StateStore};
use crate::window::{Planner, Window};

/// Epoch milliseconds now; injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().timestamp_millis())
}

/// Timing settings of a poller.
#[derive(Debug, Clone, Copy)]
pub struct PollerSettings {
    /// How far a fresh start looks back (`CTS_FROM`).
    pub look_back: Duration,
    /// Pause between polls once caught up.
    pub poll_interval: Duration,
    /// Bound on finishing in-flight sends at shutdown.
    pub shutdown_grace: Duration,
}

/// How a window ended.
enum WindowEnd {
    Complete,
    Shutdown,
    Failed(FetchError),
}

/// Polls one CTS tracker until shutdown.
pub struct Poller {
    name: String,
    source: Arc<dyn TraceSource>,
    dispatcher: Dispatcher,
    planner: Planner,
    settings: PollerSettings,
    state: Option<Arc<StateStore>>,
    metrics: Arc<PollerMetrics>,
    shutdown: watch::Receiver<bool>,
    clock: Clock,
    watermark_ms: i64,
    floor_ms: i64,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("name", &self.name)
            .field("watermark_ms", &self.watermark_ms)
            .finish_non_exhaustive()
    }
}

impl Poller {
    /// A poller named `name` (its cloud), resuming from `state` when it holds
    /// an entry for this event source, else starting `look_back` ago.
    ///
    /// A poller that starts afresh saves its starting point in `state` here,
    /// before it sends anything: a restart at any later moment (even within
    /// its first window) resumes from this lower edge, never from a new one
    /// computed at restart. The error is that save failing.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: String,
        source: Arc<dyn TraceSource>,
        mut dispatcher: Dispatcher,
        planner: Planner,
        settings: PollerSettings,
        state: Option<Arc<StateStore>>,
        metrics: Arc<PollerMetrics>,
        shutdown: watch::Receiver<bool>,
        clock: Clock,
    ) -> Result<Poller, StateError> {
        let now = clock();
        let source_uri = dispatcher.context().source.clone();
        let saved = state.as_ref().and_then(|s| s.get(&source_uri));
        let (watermark_ms, floor_ms) = match saved {
            Some(s) => {
                dispatcher
                    .seen_mut()
                    .restore(s.delivered.iter().map(|d| (d.id.as_str(), d.time_ms)));
                let floor_ms = s.floor_ms.unwrap_or(i64::MIN);
                tracing::info!(cloud = %name, source = %source_uri, watermark_ms = s.watermark_ms,
                    floor_ms = s.floor_ms, ids = s.delivered.len(), "resuming from the state file");
                (s.watermark_ms, floor_ms)
            }
            None => {
                let start = now - i64::try_from(settings.look_back.as_millis()).unwrap_or(i64::MAX);
                tracing::info!(cloud = %name, source = %source_uri, from_ms = start, "no saved state; starting CTS_FROM back");
                if let Some(store) = &state {
                    let first = PollerState {
                        watermark_ms: start,
                        delivered: Vec::new(),
                        floor_ms: Some(start),
                    };
                    store.save(&source_uri, first)?;
                    tracing::info!(cloud = %name, source = %source_uri, from_ms = start,
                        "starting point saved in the state file before sending anything");
                }
                (start, start)
            }
        };
        metrics.set_watermark(watermark_ms);
        Ok(Poller {
            name,
            source,
            dispatcher,
            planner,
            settings,
            state,
            metrics,
            shutdown,
            clock,
            watermark_ms,
            floor_ms,
        })
    }

    /// The event source this poller's state is saved under.
    pub fn source_uri(&self) -> &str {
        &self.dispatcher.context().source
    }

    /// Polls until shutdown (`Ok`) or a failure polling again cannot fix (`Err`).
    pub async fn run(mut self) -> Result<(), FetchError> {
        let mut failures: u32 = 0;
        let mut warned_loss = false;
        let result = loop {
            if *self.shutdown.borrow() {
                break Ok(());
            }
            let plan = self
                .planner
                .next(self.watermark_ms, self.floor_ms, (self.clock)());
            if let (Some(lost), false) = (plan.lost_before_ms, warned_loss) {
                warned_loss = true;
                tracing::warn!(cloud = %self.name, from_ms = lost, to_ms = plan.window.from_ms,
                    "traces in this range are older than CTS keeps (7 days) and cannot be polled; use `cts-exporter backfill --archive-dir` for them");
            }
            let started = Instant::now();
            let w = plan.window;
            // Ids up to the watermark are re-read by this window, ids from
            // `to - lateness` on by the next one; only those between are safe to forget.
            let next_from = w.to_ms - self.planner.lateness_ms() - 1;
            self.dispatcher
                .seen_mut()
                .protect(self.watermark_ms, next_from);
            let span = tracing::info_span!("poll", cloud = %self.name, from_ms = w.from_ms, to_ms = w.to_ms);
            match self.window(w).instrument(span).await {
                WindowEnd::Complete => {
                    failures = 0;
                    self.metrics.observe_poll(started.elapsed().as_secs_f64());
                    self.advance(w.to_ms);
                    if plan.caught_up && !self.pause(self.settings.poll_interval).await {
                        break Ok(());
                    }
                }
                WindowEnd::Shutdown => break Ok(()),
                WindowEnd::Failed(e) if e.fatal => {
                    tracing::error!(cloud = %self.name, error = %e, "polling CTS failed and cannot recover by itself");
                    break Err(e);
                }
                WindowEnd::Failed(e) => {
                    failures = failures.saturating_add(1);
                    self.metrics.poll_errors.fetch_add(1, Ordering::Relaxed);
                    let wait = Duration::from_secs(1u64 << failures.min(6).saturating_sub(1));
                    tracing::warn!(cloud = %self.name, error = %e, failures, retry_in_s = wait.as_secs(), "polling CTS failed; polling the window again");
                    if !self.pause(wait).await {
                        break Ok(());
                    }
                }
            }
        };
        self.finish().await;
        result
    }

    /// Fetches and delivers one window.
    async fn window(&mut self, w: Window) -> WindowEnd {
        let mut traces = self.source.traces(w);
        let before = self.metrics.fetched.load(Ordering::Relaxed);
        loop {
            let item = tokio::select! {
                biased;
                _ = stopped(&mut self.shutdown) => return WindowEnd::Shutdown,
                item = traces.next() => item,
            };
            match item {
                None => break,
                Some(Err(e)) => return WindowEnd::Failed(e),
                Some(Ok(Fetched::Undecodable(u))) => {
                    self.dispatcher.undecodable(u);
                }
                Some(Ok(Fetched::Trace(trace))) => {
                    tokio::select! {
                        biased;
                        _ = stopped(&mut self.shutdown) => return WindowEnd::Shutdown,
                        _ = self.dispatcher.offer(trace, w.to_ms) => {}
                    }
                }
            }
        }
        tokio::select! {
            biased;
            _ = stopped(&mut self.shutdown) => return WindowEnd::Shutdown,
            _ = self.dispatcher.drain() => {}
        }
        let fetched = self.metrics.fetched.load(Ordering::Relaxed) - before;
        tracing::debug!(fetched, "window delivered");
        WindowEnd::Complete
    }

    /// Moves the watermark past a fully delivered window and saves the state.
    fn advance(&mut self, to_ms: i64) {
        self.watermark_ms = self.watermark_ms.max(to_ms);
        self.metrics.set_watermark(self.watermark_ms);
        let horizon = self.watermark_ms - self.planner.lateness_ms() - 1;
        self.dispatcher.seen_mut().evict_before(horizon);
        self.save();
    }

    fn save(&self) {
        let Some(store) = &self.state else { return };
        let delivered = self
            .dispatcher
            .seen()
            .delivered()
            .map(|(id, time_ms)| DeliveredId { id, time_ms })
            .collect();
        let state = PollerState {
            watermark_ms: self.watermark_ms,
            delivered,
            floor_ms: (self.floor_ms != i64::MIN).then_some(self.floor_ms),
        };
        if let Err(e) = store.save(&self.dispatcher.context().source, state) {
            tracing::error!(cloud = %self.name, error = %e, "state not saved; a restart would resend recent traces");
        }
    }

    /// Sleeps `d` unless shutdown comes first; false on shutdown.
    async fn pause(&mut self, d: Duration) -> bool {
        tokio::select! {
            biased;
            _ = stopped(&mut self.shutdown) => false,
            _ = tokio::time::sleep(d) => true,
        }
    }

    /// Finishes or abandons in-flight sends within the grace period and saves the state.
    async fn finish(&mut self) {
        let in_flight = self.dispatcher.in_flight();
        let abandoned = self.dispatcher.stop(self.settings.shutdown_grace).await;
        self.save();
        tracing::info!(cloud = %self.name, in_flight, abandoned, watermark_ms = self.watermark_ms, "poller stopped");
    }
}

/// Resolves once the shutdown flag is set (never, if its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            futures::future::pending::<()>().await;
        }
    }
}
