//! When and how long to retry.
//!
//! Three separate pieces: [`RetryConfig`] (the numbers), [`classify`] (is
//! this error worth another attempt, and did the server say when?) and the
//! loop that combines them with an injected [`Clock`] and [`RandomSource`].
//! Keeping the classification apart from the loop lets each be tested on
//! its own, and the loop never sleeps for real in tests.

use std::future::Future;
use std::time::Duration;

use crate::clock::{Clock, RandomSource};
use crate::Error;

/// Back-off settings for retried requests.
///
/// The n-th retry (n = 1, 2, ...) waits `min(initial_backoff * multiplier^(n-1), max_backoff)`,
/// reduced by a random share of up to `jitter` (0 = no jitter, 1 = "full
/// jitter", anywhere between zero and the full delay). A server
/// `Retry-After` replaces the computed delay.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// Delay before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of the computed delay.
    pub max_backoff: Duration,
    /// Growth factor per retry, >= 1.0.
    pub multiplier: f64,
    /// Attempts in total, including the first (1 = never retry).
    pub max_attempts: u32,
    /// Share of the delay that is randomized, 0.0..=1.0.
    pub jitter: f64,
    /// The longest `Retry-After` that is honoured; a longer one ends the
    /// retries with [`Error::Throttled`] instead of blocking that long.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    /// 5 attempts, 200 ms doubling up to 10 s, half jitter, `Retry-After` up to 2 minutes.
    fn default() -> Self {
        RetryConfig {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            max_attempts: 5,
            jitter: 0.5,
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryConfig {
    /// A configuration that makes exactly one attempt.
    pub fn disabled() -> RetryConfig {
        RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        }
    }

    /// Checks the ranges, naming the setting that is off.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |setting, problem: String| Err(Error::InvalidConfig { setting, problem });
        if self.max_attempts == 0 {
            return bad(
                "retry.max_attempts",
                "must be at least 1 (1 = no retries), got 0".to_owned(),
            );
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return bad(
                "retry.multiplier",
                format!(
                    "must be a number >= 1.0 (e.g. 2.0), got {}",
                    self.multiplier
                ),
            );
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return bad(
                "retry.jitter",
                format!(
                    "must be between 0.0 and 1.0 (e.g. 0.5), got {}",
                    self.jitter
                ),
            );
        }
        if self.initial_backoff > self.max_backoff {
            return bad(
                "retry.initial_backoff",
                format!(
                    "({:?}) must not exceed retry.max_backoff ({:?})",
                    self.initial_backoff, self.max_backoff
                ),
            );
        }
        Ok(())
    }

    /// The delay before retry number `retry` (1-based), given a random draw in `[0, 1)`.
    pub fn backoff(&self, retry: u32, random: f64) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let raw = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exp);
        let capped = raw.min(self.max_backoff.as_secs_f64());
        let factor = 1.0 - self.jitter * random.clamp(0.0, 1.0);
        Duration::from_secs_f64((capped * factor).max(0.0))
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again; `after` is the server's `Retry-After`, if any.
    Retry {
        /// Server-requested delay; `None` means "use the back-off".
        after: Option<Duration>,
    },
    /// Give up and return the error.
    Stop,
}

/// Classifies an error: throttling (429, honouring `Retry-After`), server
/// errors (5xx except 501 Not Implemented and 505), network errors,
/// timeouts, and IAM being unreachable or failing (5xx) while the authorizer
/// fetches a token are retried; everything else (other 4xx, rejected
/// credentials, undecodable bodies, bad input) is not.
///
/// Every request this client makes is an idempotent `GET`, so a broken
/// connection is safe to retry too.
pub fn classify(error: &Error) -> RetryDecision {
    match error {
        Error::Throttled { retry_after, .. } => RetryDecision::Retry {
            after: *retry_after,
        },
        Error::ServerError(e) if e.status != 501 && e.status != 505 => {
            RetryDecision::Retry { after: None }
        }
        Error::Transport { .. } | Error::Timeout { .. } => RetryDecision::Retry { after: None },
        // IAM unreachable or failing while fetching a token: as transient as a CTS outage.
        Error::Auth(otc_auth::Error::Http { .. }) => RetryDecision::Retry { after: None },
        Error::Auth(otc_auth::Error::Iam { status, .. }) if *status >= 500 => {
            RetryDecision::Retry { after: None }
        }
        _ => RetryDecision::Stop,
    }
}

/// Runs `attempt` until it succeeds, [`classify`] says stop, or the budget
/// is spent. Returns the last error unchanged.
pub(crate) async fn run<T, F, Fut>(
    config: &RetryConfig,
    clock: &dyn Clock,
    random: &dyn RandomSource,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut n: u32 = 1;
    loop {
        let error = match attempt(n).await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let RetryDecision::Retry { after } = classify(&error) else {
            return Err(error);
        };
        if n >= config.max_attempts {
            tracing::debug!(attempts = n, error = %error, "CTS request failed, retries exhausted");
            return Err(error);
        }
        let delay = match after {
            Some(a) if a > config.max_retry_after => {
                tracing::debug!(retry_after = ?a, "Retry-After exceeds max_retry_after, giving up");
                return Err(error);
            }
            Some(a) => a,
            None => config.backoff(n, random.next_unit()),
        };
        tracing::debug!(attempt = n, delay = ?delay, error = %error, "CTS request failed, retrying");
        clock.sleep(delay).await;
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::time::SystemTime;

    #[derive(Debug, Default)]
    struct FakeClock {
        slept: Mutex<Vec<Duration>>,
    }

    impl Clock for FakeClock {
        fn now(&self) -> SystemTime {
            SystemTime::UNIX_EPOCH
        }
        fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
            self.slept.lock().expect("lock").push(d);
            Box::pin(async {})
        }
    }

    #[derive(Debug)]
    struct Fixed(f64);
    impl RandomSource for Fixed {
        fn next_unit(&self) -> f64 {
            self.0
        }
    }

    fn api(status: u16) -> ApiError {
        ApiError {
            status,
            code: None,
            message: None,
            request_id: None,
        }
    }

    fn config() -> RetryConfig {
        RetryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            multiplier: 2.0,
            max_attempts: 4,
            jitter: 0.5,
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let c = config();
        assert_eq!(c.backoff(1, 0.0), Duration::from_millis(100));
        assert_eq!(c.backoff(2, 0.0), Duration::from_millis(200));
        assert_eq!(c.backoff(3, 0.0), Duration::from_millis(350));
        assert_eq!(c.backoff(30, 0.0), Duration::from_millis(350));
        assert_eq!(c.backoff(2, 0.5), Duration::from_millis(150));
        let full = RetryConfig { jitter: 1.0, ..c };
        assert!(full.backoff(2, 0.999) < Duration::from_millis(1));
    }

    #[test]
    fn classification() {
        let retry = RetryDecision::Retry { after: None };
        assert_eq!(classify(&Error::ServerError(api(500))), retry);
        assert_eq!(classify(&Error::ServerError(api(503))), retry);
        assert_eq!(classify(&Error::ServerError(api(501))), RetryDecision::Stop);
        assert_eq!(
            classify(&Error::Throttled {
                error: api(429),
                retry_after: Some(Duration::from_secs(3))
            }),
            RetryDecision::Retry {
                after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            classify(&Error::Timeout {
                url: "u".into(),
                after: Duration::from_secs(1)
            }),
            retry
        );
        let connect = Error::Transport {
            url: "u".into(),
            message: "refused".into(),
            connect: true,
        };
        assert_eq!(classify(&connect), retry);
        let iam_down = Error::Auth(otc_auth::Error::Http {
            url: "u".into(),
            message: "refused".into(),
        });
        assert_eq!(classify(&iam_down), retry);
        let iam_500 = Error::Auth(otc_auth::Error::Iam {
            status: 503,
            url: "u".into(),
            message: "m".into(),
        });
        assert_eq!(classify(&iam_500), retry);
        for stop in [
            Error::BadRequest(api(400)),
            Error::NotFound(api(404)),
            Error::Forbidden(api(403)),
            Error::Unauthorized(api(401)),
            Error::Decode {
                what: "x".into(),
                problem: "y".into(),
                snippet: "z".into(),
            },
        ] {
            assert_eq!(classify(&stop), RetryDecision::Stop, "{stop}");
        }
    }

    #[test]
    fn loop_retries_with_backoff_then_succeeds() {
        let clock = FakeClock::default();
        let mut calls = 0;
        let out = futures::executor::block_on(run(&config(), &clock, &Fixed(0.0), |n| {
            calls += 1;
            async move {
                if n < 3 {
                    Err(Error::ServerError(api(502)))
                } else {
                    Ok(n)
                }
            }
        }));
        assert_eq!(out.expect("third attempt succeeds"), 3);
        assert_eq!(calls, 3);
        assert_eq!(
            *clock.slept.lock().expect("lock"),
            [Duration::from_millis(100), Duration::from_millis(200)]
        );
    }

    #[test]
    fn loop_honours_retry_after_and_gives_up_after_budget() {
        let clock = FakeClock::default();
        let out: Result<(), Error> =
            futures::executor::block_on(run(&config(), &clock, &Fixed(0.9), |_| async {
                Err(Error::Throttled {
                    error: api(429),
                    retry_after: Some(Duration::from_secs(7)),
                })
            }));
        assert!(matches!(out, Err(Error::Throttled { .. })));
        assert_eq!(
            *clock.slept.lock().expect("lock"),
            [Duration::from_secs(7); 3]
        );
    }

    #[test]
    fn loop_stops_on_non_retryable_and_on_huge_retry_after() {
        let clock = FakeClock::default();
        let mut calls = 0;
        let out: Result<(), Error> =
            futures::executor::block_on(run(&config(), &clock, &Fixed(0.0), |_| {
                calls += 1;
                async { Err(Error::BadRequest(api(400))) }
            }));
        assert!(matches!(out, Err(Error::BadRequest(_))));
        assert_eq!(calls, 1);
        let out: Result<(), Error> =
            futures::executor::block_on(run(&config(), &clock, &Fixed(0.0), |_| async {
                Err(Error::Throttled {
                    error: api(429),
                    retry_after: Some(Duration::from_secs(3600)),
                })
            }));
        assert!(matches!(out, Err(Error::Throttled { .. })));
        assert!(clock.slept.lock().expect("lock").is_empty());
    }

    #[test]
    fn validation_names_the_setting() {
        assert!(RetryConfig::default().validate().is_ok());
        let cases = [
            (
                RetryConfig {
                    max_attempts: 0,
                    ..config()
                },
                "retry.max_attempts",
            ),
            (
                RetryConfig {
                    multiplier: 0.5,
                    ..config()
                },
                "retry.multiplier",
            ),
            (
                RetryConfig {
                    jitter: 1.5,
                    ..config()
                },
                "retry.jitter",
            ),
            (
                RetryConfig {
                    initial_backoff: Duration::from_secs(60),
                    ..config()
                },
                "retry.initial_backoff",
            ),
        ];
        for (c, name) in cases {
            let e = c.validate().expect_err(name);
            assert!(e.to_string().contains(name), "{e}");
        }
    }
}
