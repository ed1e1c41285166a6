//! One tenant's poller is [`cts_client::follow::Poller`] with the CloudEvents
//! [`crate::dispatcher::Dispatcher`] as its delivery; here its progress
//! becomes the exporter's logs and metrics.

use std::sync::atomic::Ordering;

use cts_client::follow::Progress;

use crate::metrics::PollerMetrics;

/// Logs and counts what the poller of `cloud` (event source `source`) reports.
pub fn report(cloud: &str, source: &str, metrics: &PollerMetrics, p: Progress<'_>) {
    match p {
        Progress::Resumed { position: s } => {
            metrics.set_watermark(s.watermark_ms);
            tracing::info!(cloud = %cloud, source = %source, watermark_ms = s.watermark_ms,
                floor_ms = s.floor_ms, ids = s.delivered.len(), "resuming from the state file");
        }
        Progress::Started { from_ms, saved } => {
            metrics.set_watermark(from_ms);
            tracing::info!(cloud = %cloud, source = %source, from_ms, "no saved state; starting CTS_FROM back");
            if saved {
                tracing::info!(cloud = %cloud, source = %source, from_ms,
                    "starting point saved in the state file before sending anything");
            }
        }
        Progress::Lost { from_ms, to_ms } => tracing::warn!(cloud = %cloud, from_ms, to_ms,
            "traces in this range are older than CTS keeps (7 days) and cannot be polled; use `cts-exporter backfill --archive-dir` for them"),
        Progress::Advanced { watermark_ms, took } => {
            metrics.observe_poll(took.as_secs_f64());
            metrics.set_watermark(watermark_ms);
        }
        Progress::Retrying {
            error,
            failures,
            retry_in,
        } => {
            metrics.poll_errors.fetch_add(1, Ordering::Relaxed);
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
