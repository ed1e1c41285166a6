//! The source of "now" for token expiry and `X-Sdk-Date`.
//!
//! Injected so tests can move time forward (token refresh) or pin it (deterministic signatures)
//! without sleeping.

use std::fmt::Debug;

use chrono::{DateTime, Utc};

/// Tells the current time.
pub trait Clock: Send + Sync + Debug {
    /// The current time in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
