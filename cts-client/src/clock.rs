//! Time and randomness as injectable services.
//!
//! Retry back-off sleeps and jitter draws go through these traits so tests
//! can run the retry loop with a fake clock (recording the sleeps instead of
//! waiting) and a fixed random source, and assert the exact delays.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time and sleeping.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time (used to turn an HTTP-date `Retry-After` into a delay).
    fn now(&self) -> SystemTime;

    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// The real clock: [`SystemTime::now`] and `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A source of uniformly distributed numbers in `[0, 1)` for jitter.
pub trait RandomSource: Send + Sync + fmt::Debug {
    /// The next number in `[0, 1)`.
    fn next_unit(&self) -> f64;
}

/// A small, fast, seedable generator (SplitMix64). Not cryptographic; it
/// only spreads retry delays.
#[derive(Debug)]
pub struct SeededRandom {
    state: AtomicU64,
}

impl SeededRandom {
    /// A generator with a fixed seed: the same seed gives the same sequence.
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom {
            state: AtomicU64::new(seed),
        }
    }

    /// A generator seeded from the current time.
    pub fn from_time() -> SeededRandom {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        SeededRandom::new(nanos ^ u64::from(std::process::id()).rotate_left(32))
    }
}

impl RandomSource for SeededRandom {
    fn next_unit(&self) -> f64 {
        let s = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // 53 high bits -> [0, 1)
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_random_is_reproducible_and_in_range() {
        let a = SeededRandom::new(42);
        let b = SeededRandom::new(42);
        let xs: Vec<f64> = (0..1000).map(|_| a.next_unit()).collect();
        let ys: Vec<f64> = (0..1000).map(|_| b.next_unit()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
        assert_ne!(
            SeededRandom::new(1).next_unit(),
            SeededRandom::new(2).next_unit()
        );
    }
}
