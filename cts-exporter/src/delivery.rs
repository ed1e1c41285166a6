//! Delivery is the `ce-delivery` crate. This module keeps the paths the rest
//! of the exporter uses and adds what is the exporter's own: the dead-letter
//! reason of unreadable CTS traces, and the WARN lines and retry counter an
//! operator watches ([`LogRetries`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use ce_delivery::{retry, transport};

/// The dead-letter file, knowing how the exporter marks unreadable CTS traces.
pub mod dead_letter {
    use std::path::Path;

    /// How the `reason` of a record written for an unreadable CTS trace begins.
    pub const UNDECODABLE_REASON: &str = "CTS sent a trace the exporter cannot read";

    /// [`ce_delivery::DeadLetter`] plus [`DeadLetter::each_undecodable`].
    #[derive(Debug)]
    pub struct DeadLetter(ce_delivery::DeadLetter);

    impl DeadLetter {
        /// Opens (creating if needed) `path` for appending.
        pub fn open(path: &Path) -> Result<DeadLetter, ce_delivery::Error> {
            ce_delivery::DeadLetter::open(path).map(DeadLetter)
        }

        /// Calls `f` with the JSON of every unreadable CTS trace already in the file.
        pub fn each_undecodable(&self, f: impl FnMut(&str)) -> Result<(), ce_delivery::Error> {
            self.0.each_raw(UNDECODABLE_REASON, f)
        }
    }

    impl std::ops::Deref for DeadLetter {
        type Target = ce_delivery::DeadLetter;
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }
}

/// Counts retries (`cts_exporter_retries_total`) and logs them at
/// WARN on the first retry of a delivery and every tenth after it, and logs a
/// refused batch once.
#[derive(Debug)]
pub struct LogRetries(pub Arc<AtomicU64>);

impl ce_delivery::Observer for LogRetries {
    fn retrying(&self, what: &str, attempt: u32, wait: Duration, reason: &str) {
        self.0.fetch_add(1, Ordering::Relaxed);
        let wait_ms = wait.as_millis() as u64;
        if attempt == 1 || attempt % 10 == 0 {
            tracing::warn!(id = what, attempt, wait_ms, error = %reason, "delivery failed; retrying");
        } else {
            tracing::debug!(id = what, attempt, wait_ms, error = %reason, "delivery failed; retrying");
        }
    }

    fn batch_refused(&self, events: usize, status: Option<u16>, reason: &str) {
        tracing::warn!(events, status, error = %reason,
            "the sink refused a batch; sending its events one by one, so only those it refuses alone go to the dead-letter file");
    }
}
