//! Fault injection on the CTS routes: throttling (429 + `Retry-After`),
//! server errors (500) and slow answers, drawn per request from a seeded
//! random source so a test run is repeatable.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Faults;

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer normally.
    None,
    /// Answer 429 with `Retry-After: secs`.
    RateLimited { retry_after_secs: u64 },
    /// Answer 500.
    ServerError,
}

/// The per-request fault draw.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    cfg: Faults,
    rng: Mutex<StdRng>,
}

impl FaultInjector {
    pub fn new(cfg: Faults, seed: u64) -> Self {
        FaultInjector {
            cfg,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }

    /// The fault for the next request and the extra latency to add first.
    pub fn draw(&self) -> (Fault, Option<Duration>) {
        let c = &self.cfg;
        if c.rate_limited_share == 0.0 && c.server_error_share == 0.0 && c.slow_share == 0.0 {
            return (Fault::None, None);
        }
        let mut rng = match self.rng.lock() {
            Ok(r) => r,
            Err(p) => p.into_inner(),
        };
        let x: f64 = rng.gen();
        let fault = if x < c.rate_limited_share {
            Fault::RateLimited {
                retry_after_secs: c.retry_after_secs,
            }
        } else if x < c.rate_limited_share + c.server_error_share {
            Fault::ServerError
        } else {
            Fault::None
        };
        let slow = (rng.gen::<f64>() < c.slow_share).then_some(c.slow_delay);
        (fault, slow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_respected_and_repeatable() {
        let cfg = Faults {
            rate_limited_share: 0.1,
            server_error_share: 0.05,
            slow_share: 0.2,
            ..Faults::default()
        };
        let draw_all = |seed| {
            let f = FaultInjector::new(cfg.clone(), seed);
            (0..20_000).map(|_| f.draw()).collect::<Vec<_>>()
        };
        let a = draw_all(3);
        assert_eq!(a, draw_all(3));
        let n = a.len() as f64;
        let limited = a
            .iter()
            .filter(|x| matches!(x.0, Fault::RateLimited { .. }))
            .count() as f64
            / n;
        let errors = a.iter().filter(|x| x.0 == Fault::ServerError).count() as f64 / n;
        let slow = a.iter().filter(|x| x.1.is_some()).count() as f64 / n;
        assert!((0.09..0.11).contains(&limited), "{limited}");
        assert!((0.04..0.06).contains(&errors), "{errors}");
        assert!((0.18..0.22).contains(&slow), "{slow}");
    }

    #[test]
    fn no_faults_by_default() {
        let f = FaultInjector::new(Faults::default(), 1);
        assert!((0..1000).all(|_| f.draw() == (Fault::None, None)));
    }
}
