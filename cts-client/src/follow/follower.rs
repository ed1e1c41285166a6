//! [`Follower`]: the poller as a stream of traces the caller acknowledges.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::{Error, Trace, UndecodableTrace};

use super::{
    system_clock, Checkpoint, Deliver, FetchError, Planner, Poller, PollerSettings, Reported, Seen,
    TraceSource,
};

/// How a [`Follower`] polls. The defaults are cts-exporter's.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// How far back a start without a saved position begins (default 5 minutes).
    pub look_back: Duration,
    /// How late a trace may appear in CTS after its time: each window
    /// re-reads this much before the watermark (default 180 s).
    pub lateness: Duration,
    /// The longest range one query covers while catching up (default 1 hour).
    pub max_window: Duration,
    /// The pause between polls once caught up (default 60 s).
    pub poll_interval: Duration,
    /// At most about this many delivered ids are remembered for
    /// de-duplication (default 100,000).
    pub dedup_capacity: usize,
    /// Traces handed out but not yet taken by [`Follower::next`] (default 256).
    pub buffer: usize,
    /// At [`Follower::stop`], how long unacknowledged traces may still be
    /// acknowledged (default 10 s).
    pub shutdown_grace: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            look_back: Duration::from_secs(300),
            lateness: Duration::from_secs(180),
            max_window: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(60),
            dedup_capacity: 100_000,
            buffer: 256,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// One item a [`Follower`] hands out.
// Items are as large as the traces they carry; boxing would add an
// allocation per trace for the rare undecodable one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Followed {
    /// A trace not handed out before; acknowledge it once it is processed.
    Trace(Delivery),
    /// A trace CTS sent that the model cannot read (its raw JSON is kept in
    /// it), handed out once even if windows read it again. It needs no
    /// acknowledgement and is never handed out as a trace.
    Undecodable(UndecodableTrace),
}

/// A trace to process, with its acknowledgement.
///
/// The position moves past a window only once every trace of it was
/// acknowledged. Dropping a `Delivery` without [`Delivery::ack`] abandons
/// it: the window is polled again and the trace handed out again.
#[derive(Debug)]
pub struct Delivery {
    /// The trace.
    pub trace: Trace,
    token: u64,
    done: Option<mpsc::UnboundedSender<(u64, bool)>>,
}

impl Delivery {
    /// Acknowledges the trace: it was processed and must not come again.
    pub fn ack(mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send((self.token, true));
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send((self.token, false));
        }
    }
}

/// Follows one CTS tracker without gaps: a stream of traces in window
/// order, each handed out once, resumable from a [`Checkpoint`].
///
/// Built on the same [`Poller`] as cts-exporter: overlapping windows catch
/// late traces, de-duplication hands each id out once, and the position
/// (saved through the checkpoint) moves only past windows whose every trace
/// was acknowledged. The starting point is saved before the first trace is
/// handed out. A restart (even after a crash) therefore resumes without a
/// gap; traces handed out but not acknowledged come again.
#[derive(Debug)]
pub struct Follower {
    items: mpsc::Receiver<Followed>,
    task: Option<JoinHandle<Result<(), FetchError>>>,
    stop: watch::Sender<bool>,
}

impl Follower {
    /// Starts following `source`, saving the position under `key` (for a
    /// [`super::CtsSource`], [`super::CtsSource::key`]) in `checkpoint`.
    ///
    /// Loads the saved position, or saves the starting point (`look_back`
    /// before now) before anything is handed out; the error is that load or
    /// save failing. Polling runs on a tokio task until [`Follower::stop`],
    /// the follower is dropped, or a fatal error.
    pub async fn start<S, C>(
        key: impl Into<String>,
        source: S,
        checkpoint: C,
        options: FollowOptions,
    ) -> Result<Follower, Error>
    where
        S: TraceSource + 'static,
        C: Checkpoint + 'static,
    {
        let (items_tx, items) = mpsc::channel(options.buffer.max(1));
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (stop, shutdown) = watch::channel(false);
        let deliver = Channel {
            seen: Seen::new(options.dedup_capacity),
            reported: Reported::default(),
            items: items_tx,
            done_tx,
            done_rx,
            pending: HashMap::new(),
            next_token: 0,
            abandoned: false,
        };
        let poller = Poller::start(
            key.into(),
            Arc::new(source),
            deliver,
            Planner::new(options.lateness, options.max_window),
            PollerSettings {
                look_back: options.look_back,
                poll_interval: options.poll_interval,
                shutdown_grace: options.shutdown_grace,
            },
            checkpoint,
            shutdown,
            system_clock(),
        )
        .await?;
        Ok(Follower {
            items,
            task: Some(tokio::spawn(poller.run())),
            stop,
        })
    }

    /// The next item, waiting for CTS as long as needed; `None` once
    /// stopped; `Some(Err)` once for a failure polling again cannot fix
    /// (credentials, permissions, an unknown tracker). Transient failures
    /// are retried with back-off and not returned.
    pub async fn next(&mut self) -> Option<Result<Followed, FetchError>> {
        if let Some(item) = self.items.recv().await {
            return Some(Ok(item));
        }
        let task = self.task.take()?;
        match task.await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(Err(e)),
            Err(e) => Some(Err(FetchError {
                message: format!("the follower's task failed: {e}"),
                fatal: true,
            })),
        }
    }

    /// Stops polling: traces handed out may still be acknowledged within
    /// [`FollowOptions::shutdown_grace`], then the position is saved.
    pub async fn stop(mut self) -> Result<(), FetchError> {
        self.stop.send_replace(true);
        // Items not yet taken are abandoned: they come again after a restart.
        self.items.close();
        while self.items.try_recv().is_ok() {}
        match self.task.take() {
            Some(task) => task.await.unwrap_or_else(|e| {
                Err(FetchError {
                    message: format!("the follower's task failed: {e}"),
                    fatal: true,
                })
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The [`Deliver`] side of a [`Follower`]: traces into a channel, acks back.
#[derive(Debug)]
struct Channel {
    seen: Seen,
    reported: Reported,
    items: mpsc::Sender<Followed>,
    done_tx: mpsc::UnboundedSender<(u64, bool)>,
    done_rx: mpsc::UnboundedReceiver<(u64, bool)>,
    /// Handed out, not yet acknowledged: token to id.
    pending: HashMap<u64, Option<String>>,
    next_token: u64,
    /// A delivery was dropped without an ack since the last drain.
    abandoned: bool,
}

impl Channel {
    fn book(&mut self, (token, acked): (u64, bool)) {
        let Some(id) = self.pending.remove(&token) else {
            return;
        };
        match (id, acked) {
            (Some(id), true) => self.seen.complete(&id),
            (Some(id), false) => {
                self.seen.release(&id);
                self.abandoned = true;
            }
            (None, acked) => self.abandoned |= !acked,
        }
    }

    fn book_ready(&mut self) {
        while let Ok(d) = self.done_rx.try_recv() {
            self.book(d);
        }
    }
}

impl Deliver for Channel {
    fn seen(&self) -> &Seen {
        &self.seen
    }

    fn seen_mut(&mut self) -> &mut Seen {
        &mut self.seen
    }

    async fn offer(&mut self, trace: Trace, fallback_time_ms: i64) {
        self.book_ready();
        let id = trace.id().map(str::to_owned);
        if let Some(id) = &id {
            let time_ms = trace.time.or(trace.record_time).unwrap_or(fallback_time_ms);
            if !self.seen.claim(id, time_ms) {
                return;
            }
        }
        let token = self.next_token;
        self.next_token += 1;
        self.pending.insert(token, id);
        let delivery = Delivery {
            trace,
            token,
            done: Some(self.done_tx.clone()),
        };
        // A closed channel (the follower stopped) drops the delivery: it books as abandoned.
        let _ = self.items.send(Followed::Trace(delivery)).await;
    }

    async fn undecodable(&mut self, trace: UndecodableTrace) {
        if self.reported.first_time(&trace.raw) {
            let _ = self.items.send(Followed::Undecodable(trace)).await;
        }
    }

    async fn drain(&mut self) -> bool {
        self.book_ready();
        while !self.pending.is_empty() {
            match self.done_rx.recv().await {
                Some(d) => self.book(d),
                None => break,
            }
        }
        !std::mem::replace(&mut self.abandoned, false)
    }

    fn in_flight(&self) -> usize {
        self.pending.len()
    }

    async fn stop(&mut self, grace: Duration) -> usize {
        let _ = tokio::time::timeout(grace, self.drain()).await;
        self.book_ready();
        let abandoned = self.pending.len();
        self.pending.clear();
        self.seen.release_all_pending();
        abandoned
    }
}
