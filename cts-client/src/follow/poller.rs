//! The engine: one poller per (CTS endpoint, project, tracker): windows,
//! watermark, checkpoint, shutdown.
//!
//! A poller without a saved position saves its starting point before it
//! hands out anything, so a restart never starts after a point not yet covered.
//!
//! Each round asks the [`Planner`] for a window reaching back `lateness`
//! before the watermark, streams its traces into the [`Deliver`] (which skips
//! ids already delivered and waits while its consumer is slow), and only
//! when every trace of the window is acknowledged (or refused for good)
//! moves the watermark to the window's end and saves the position. A failed
//! fetch leaves the watermark where it is, so the window is simply polled
//! again. On shutdown the in-flight deliveries get a bounded grace period,
//! then the position is saved with the ids delivered so far.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::watch;
use tracing::Instrument;

use crate::{Error, Trace, UndecodableTrace};

use super::{
    Checkpoint, DeliveredId, FetchError, Fetched, Planner, Position, Seen, TraceSource, Window,
};

/// Epoch milliseconds now; injectable for tests.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    })
}

/// Timing settings of a poller.
#[derive(Debug, Clone, Copy)]
pub struct PollerSettings {
    /// How far a fresh start looks back.
    pub look_back: Duration,
    /// Pause between polls once caught up.
    pub poll_interval: Duration,
    /// Bound on finishing in-flight deliveries at shutdown.
    pub shutdown_grace: Duration,
}

/// What a poller reports as it goes: for logs and metrics of the caller
/// (the library itself logs only at debug level).
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// A saved position was found; the poller resumes from it.
    Resumed {
        /// The position loaded.
        position: &'a Position,
    },
    /// No saved position: the poller starts `look_back` before now.
    Started {
        /// The lower edge of the first window (epoch ms).
        from_ms: i64,
        /// True when that starting point was saved before anything was handed out.
        saved: bool,
    },
    /// The watermark asks for traces older than CTS keeps (7 days).
    Lost {
        /// Start of the range that cannot be polled (epoch ms).
        from_ms: i64,
        /// Where polling starts instead (epoch ms).
        to_ms: i64,
    },
    /// A window was delivered completely and the watermark moved.
    Advanced {
        /// The new watermark (epoch ms).
        watermark_ms: i64,
        /// How long the window took.
        took: Duration,
    },
    /// A window failed (fetch error, or traces not acknowledged); it is polled again.
    Retrying {
        /// What failed.
        error: &'a FetchError,
        /// Failures in a row.
        failures: u32,
        /// The pause before the next try.
        retry_in: Duration,
    },
    /// A failure polling again cannot fix: the poller stops with it.
    Fatal {
        /// What failed.
        error: &'a FetchError,
    },
    /// Saving the position failed; a restart would repeat recent traces.
    SaveFailed {
        /// What failed.
        error: &'a Error,
    },
    /// The poller stopped (shutdown).
    Stopped {
        /// Deliveries unfinished when shutdown came.
        in_flight: usize,
        /// Of those, abandoned after the grace period.
        abandoned: usize,
        /// The watermark saved last (epoch ms).
        watermark_ms: i64,
    },
}

/// Where a poller hands its traces: de-duplication, delivery and its
/// acknowledgements. [`super::Follower`] implements it with a channel;
/// cts-exporter with its CloudEvents pipeline.
///
/// The contract that makes the poller gap-free: `offer` claims the trace's
/// id in [`Deliver::seen_mut`] (skipping it if already claimed) before
/// delivering it, and completes it there once the delivery was acknowledged
/// or refused for good; `drain` returns only when every offered trace is
/// completed, and returns false if any was abandoned (then the window is
/// polled again instead of moving the watermark).
pub trait Deliver: Send {
    /// The de-duplication set.
    fn seen(&self) -> &Seen;
    /// The de-duplication set, mutable (protect, evict, restore).
    fn seen_mut(&mut self) -> &mut Seen;
    /// Takes one fetched trace; waits while the consumer is full.
    /// `fallback_time_ms` stands in for a trace without any time.
    fn offer(&mut self, trace: Trace, fallback_time_ms: i64) -> impl Future<Output = ()> + Send;
    /// Takes a trace CTS sent that cannot be read (never delivered; to be reported).
    fn undecodable(&mut self, trace: UndecodableTrace) -> impl Future<Output = ()> + Send;
    /// Waits until every offered trace is completed; false if any was abandoned.
    fn drain(&mut self) -> impl Future<Output = bool> + Send;
    /// Deliveries not yet finished.
    fn in_flight(&self) -> usize;
    /// At shutdown: finishes deliveries within `grace`, abandons the rest and
    /// forgets their claims. Returns how many were abandoned.
    fn stop(&mut self, grace: Duration) -> impl Future<Output = usize> + Send;
    /// Hears what the poller does (default: nothing).
    fn progress(&mut self, progress: Progress<'_>) {
        let _ = progress;
    }
}

/// How a window ended.
enum WindowEnd {
    Complete,
    Shutdown,
    Failed(FetchError),
}

/// Polls one CTS tracker until shutdown.
pub struct Poller<D, C> {
    key: String,
    source: Arc<dyn TraceSource>,
    deliver: D,
    planner: Planner,
    settings: PollerSettings,
    checkpoint: C,
    shutdown: watch::Receiver<bool>,
    clock: Clock,
    watermark_ms: i64,
    floor_ms: i64,
}

impl<D, C> std::fmt::Debug for Poller<D, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("key", &self.key)
            .field("watermark_ms", &self.watermark_ms)
            .finish_non_exhaustive()
    }
}

impl<D: Deliver, C: Checkpoint> Poller<D, C> {
    /// A poller saving its position under `key`, resuming from `checkpoint`
    /// when it holds an entry for it, else starting `look_back` ago.
    ///
    /// A poller that starts afresh saves its starting point here, before it
    /// hands out anything: a restart at any later moment (even within its
    /// first window) resumes from this lower edge, never from a new one
    /// computed at restart. The error is loading, or that save, failing.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        key: String,
        source: Arc<dyn TraceSource>,
        mut deliver: D,
        planner: Planner,
        settings: PollerSettings,
        checkpoint: C,
        shutdown: watch::Receiver<bool>,
        clock: Clock,
    ) -> Result<Poller<D, C>, Error> {
        let now = clock();
        let saved = checkpoint.load(&key).await?;
        let (watermark_ms, floor_ms) = match saved {
            Some(s) => {
                deliver
                    .seen_mut()
                    .restore(s.delivered.iter().map(|d| (d.id.as_str(), d.time_ms)));
                tracing::debug!(key = %key, watermark_ms = s.watermark_ms, floor_ms = s.floor_ms,
                    ids = s.delivered.len(), "resuming from the checkpoint");
                deliver.progress(Progress::Resumed { position: &s });
                (s.watermark_ms, s.floor_ms.unwrap_or(i64::MIN))
            }
            None => {
                let start = now - i64::try_from(settings.look_back.as_millis()).unwrap_or(i64::MAX);
                let first = Position {
                    watermark_ms: start,
                    delivered: Vec::new(),
                    floor_ms: Some(start),
                };
                checkpoint.save(&key, &first).await?;
                tracing::debug!(key = %key, from_ms = start, "no checkpoint; starting point saved before anything is handed out");
                deliver.progress(Progress::Started {
                    from_ms: start,
                    saved: true,
                });
                (start, start)
            }
        };
        Ok(Poller {
            key,
            source,
            deliver,
            planner,
            settings,
            checkpoint,
            shutdown,
            clock,
            watermark_ms,
            floor_ms,
        })
    }

    /// The key this poller's position is saved under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The watermark (epoch ms): every trace before it was acknowledged.
    pub fn watermark_ms(&self) -> i64 {
        self.watermark_ms
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
                self.deliver.progress(Progress::Lost {
                    from_ms: lost,
                    to_ms: plan.window.from_ms,
                });
            }
            let started = Instant::now();
            let w = plan.window;
            // Ids up to the watermark are re-read by this window, ids from
            // `to - lateness` on by the next one; only those between are safe to forget.
            let next_from = w.to_ms - self.planner.lateness_ms() - 1;
            self.deliver
                .seen_mut()
                .protect(self.watermark_ms, next_from);
            let span =
                tracing::debug_span!("poll", key = %self.key, from_ms = w.from_ms, to_ms = w.to_ms);
            match self.window(w).instrument(span).await {
                WindowEnd::Complete => {
                    failures = 0;
                    self.advance(w.to_ms, started.elapsed()).await;
                    if plan.caught_up && !self.pause(self.settings.poll_interval).await {
                        break Ok(());
                    }
                }
                WindowEnd::Shutdown => break Ok(()),
                WindowEnd::Failed(e) if e.fatal => {
                    self.deliver.progress(Progress::Fatal { error: &e });
                    break Err(e);
                }
                WindowEnd::Failed(e) => {
                    failures = failures.saturating_add(1);
                    let wait = Duration::from_secs(1u64 << failures.min(6).saturating_sub(1));
                    tracing::debug!(key = %self.key, error = %e, failures, "window failed; polling it again");
                    self.deliver.progress(Progress::Retrying {
                        error: &e,
                        failures,
                        retry_in: wait,
                    });
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
        let mut count: u64 = 0;
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
                    tokio::select! {
                        biased;
                        _ = stopped(&mut self.shutdown) => return WindowEnd::Shutdown,
                        _ = self.deliver.undecodable(u) => {}
                    }
                }
                Some(Ok(Fetched::Trace(trace))) => {
                    count += 1;
                    tokio::select! {
                        biased;
                        _ = stopped(&mut self.shutdown) => return WindowEnd::Shutdown,
                        _ = self.deliver.offer(trace, w.to_ms) => {}
                    }
                }
            }
        }
        let complete = tokio::select! {
            biased;
            _ = stopped(&mut self.shutdown) => return WindowEnd::Shutdown,
            complete = self.deliver.drain() => complete,
        };
        if !complete {
            return WindowEnd::Failed(FetchError {
                message: "not every trace of the window was acknowledged; polling it again".into(),
                fatal: false,
            });
        }
        tracing::debug!(fetched = count, "window delivered");
        WindowEnd::Complete
    }

    /// Moves the watermark past a fully delivered window and saves the position.
    async fn advance(&mut self, to_ms: i64, took: Duration) {
        self.watermark_ms = self.watermark_ms.max(to_ms);
        self.deliver.progress(Progress::Advanced {
            watermark_ms: self.watermark_ms,
            took,
        });
        let horizon = self.watermark_ms - self.planner.lateness_ms() - 1;
        self.deliver.seen_mut().evict_before(horizon);
        self.save().await;
    }

    async fn save(&mut self) {
        let delivered = self
            .deliver
            .seen()
            .delivered()
            .map(|(id, time_ms)| DeliveredId { id, time_ms })
            .collect();
        let position = Position {
            watermark_ms: self.watermark_ms,
            delivered,
            floor_ms: (self.floor_ms != i64::MIN).then_some(self.floor_ms),
        };
        if let Err(e) = self.checkpoint.save(&self.key, &position).await {
            tracing::debug!(key = %self.key, error = %e, "position not saved");
            self.deliver.progress(Progress::SaveFailed { error: &e });
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

    /// Finishes or abandons in-flight deliveries within the grace period and saves the position.
    async fn finish(&mut self) {
        let in_flight = self.deliver.in_flight();
        let abandoned = self.deliver.stop(self.settings.shutdown_grace).await;
        self.save().await;
        self.deliver.progress(Progress::Stopped {
            in_flight,
            abandoned,
            watermark_ms: self.watermark_ms,
        });
    }
}

/// Runs `pollers` (one per tenant) together until every one has stopped.
/// The first failure polling again cannot fix (or a poller task that
/// panicked) raises `stop`, so the others stop too and save their positions;
/// it is returned with that poller's key (empty for a panic).
pub async fn run_all<D, C>(
    pollers: Vec<Poller<D, C>>,
    stop: &watch::Sender<bool>,
) -> Result<(), (String, FetchError)>
where
    D: Deliver + 'static,
    C: Checkpoint + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for poller in pollers {
        let key = poller.key().to_owned();
        tasks.spawn(async move { (key, poller.run().await) });
    }
    let mut first = None;
    while let Some(joined) = tasks.join_next().await {
        let failed = match joined {
            Ok((_, Ok(()))) => continue,
            Ok((key, Err(e))) => (key, e),
            Err(e) => (
                String::new(),
                FetchError {
                    message: format!("a poller failed: {e}"),
                    fatal: true,
                },
            ),
        };
        first.get_or_insert(failed);
        stop.send_replace(true);
    }
    first.map_or(Ok(()), Err)
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
