//! One tenant's poller: the engine of [`cts_client::follow::Poller`] with
//! the CloudEvents [`Dispatcher`] as its delivery, and the exporter's logs
//! and metrics on its progress.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use cts_client::follow::{Deliver, Progress, Seen};
use cts_client::{Trace, UndecodableTrace};

use crate::dispatcher::Dispatcher;
use crate::metrics::PollerMetrics;

/// A tenant's dispatcher, as the poller's [`Deliver`].
#[derive(Debug)]
pub struct Polled {
    /// The cloud's name, for logs.
    pub name: String,
    /// Maps, de-duplicates and sends.
    pub dispatcher: Dispatcher,
    /// The cloud's metrics.
    pub metrics: Arc<PollerMetrics>,
}

impl Deliver for Polled {
    fn seen(&self) -> &Seen {
        self.dispatcher.seen()
    }

    fn seen_mut(&mut self) -> &mut Seen {
        self.dispatcher.seen_mut()
    }

    async fn offer(&mut self, trace: Trace, fallback_time_ms: i64) {
        self.dispatcher.offer(trace, fallback_time_ms).await;
    }

    async fn undecodable(&mut self, trace: UndecodableTrace) {
        self.dispatcher.undecodable(trace);
    }

    async fn drain(&mut self) -> bool {
        self.dispatcher.drain().await;
        true
    }

    fn in_flight(&self) -> usize {
        self.dispatcher.in_flight()
    }

    async fn stop(&mut self, grace: Duration) -> usize {
        self.dispatcher.stop(grace).await
    }

    fn progress(&mut self, p: Progress<'_>) {
        let cloud = &self.name;
        let source = &self.dispatcher.context().source;
        match p {
            Progress::Resumed { position: s } => {
                self.metrics.set_watermark(s.watermark_ms);
                tracing::info!(cloud = %cloud, source = %source, watermark_ms = s.watermark_ms,
                    floor_ms = s.floor_ms, ids = s.delivered.len(), "resuming from the state file");
            }
            Progress::Started { from_ms, saved } => {
                self.metrics.set_watermark(from_ms);
                tracing::info!(cloud = %cloud, source = %source, from_ms, "no saved state; starting CTS_FROM back");
                if saved {
                    tracing::info!(cloud = %cloud, source = %source, from_ms,
                        "starting point saved in the state file before sending anything");
                }
            }
            Progress::Lost { from_ms, to_ms } => tracing::warn!(cloud = %cloud, from_ms, to_ms,
                "traces in this range are older than CTS keeps (7 days) and cannot be polled; use `cts-exporter backfill --archive-dir` for them"),
            Progress::Advanced { watermark_ms, took } => {
                self.metrics.observe_poll(took.as_secs_f64());
                self.metrics.set_watermark(watermark_ms);
            }
            Progress::Retrying {
                error,
                failures,
                retry_in,
            } => {
                self.metrics.poll_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(cloud = %cloud, error = %error, failures, retry_in_s = retry_in.as_secs(),
                    "polling CTS failed; polling the window again");
            }
            Progress::Fatal { error } => tracing::error!(cloud = %cloud, error = %error,
                "polling CTS failed and cannot recover by itself"),
            Progress::SaveFailed { error } => tracing::error!(cloud = %cloud, error = %error,
                "state not saved; a restart would resend recent traces"),
            Progress::Stopped {
                in_flight,
                abandoned,
                watermark_ms,
            } => tracing::info!(
                cloud = %cloud, in_flight, abandoned, watermark_ms, "poller stopped"),
            _ => {}
        }
    }
}
