//! Retry *classification* and *timing*, kept apart from the retry loop.
//!
//! [`classify`] decides from a sink answer alone whether an event is done,
//! worth another attempt, or refused for good; it follows Knative's own
//! delivery rules (retry on 5xx, 404, 408, 409, 429 and transport errors).
//! [`RetryPolicy::delay`] is a pure function of the attempt number and a
//! jitter sample, so tests pin it down without a clock or a random source.

use std::time::{Duration, SystemTime};

/// A `Retry-After` longer than this is cut down to it, so one odd header
/// cannot park an event for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(900);

/// Exponential backoff with "equal jitter": half the step is fixed, half random.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the first retry (before jitter).
    pub initial: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
    /// Growth per attempt.
    pub multiplier: f64,
}

impl RetryPolicy {
    /// A doubling policy from `initial` up to `max`.
    pub fn new(initial: Duration, max: Duration) -> RetryPolicy {
        RetryPolicy {
            initial,
            max,
            multiplier: 2.0,
        }
    }

    /// The delay before retry number `attempt` (1 for the first retry), given
    /// a jitter sample in `[0, 1)`: between half and all of the step.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(64) as i32;
        let step =
            (self.initial.as_secs_f64() * self.multiplier.powi(exp)).min(self.max.as_secs_f64());
        let jitter = jitter.clamp(0.0, 1.0);
        Duration::from_secs_f64(step * (0.5 + 0.5 * jitter))
    }
}

/// What to do after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The sink acknowledged (2xx).
    Done,
    /// Try again, after `after` if the sink said so (`Retry-After`).
    Retry {
        /// The sink's requested pause.
        after: Option<Duration>,
        /// Why, for logs.
        reason: String,
    },
    /// The sink refused the event for good.
    Reject {
        /// HTTP status, if there was an answer.
        status: Option<u16>,
        /// Why, for logs and the dead-letter file.
        reason: String,
    },
}

/// Classifies an HTTP answer. `retry_after` is the raw header, if any.
pub fn classify(status: u16, retry_after: Option<&str>, now: SystemTime) -> Verdict {
    match status {
        200..=299 => Verdict::Done,
        404 | 408 | 409 | 429 | 500..=599 => Verdict::Retry {
            after: retry_after.and_then(|v| parse_retry_after(v, now)),
            reason: format!("sink answered {status}"),
        },
        _ => Verdict::Reject {
            status: Some(status),
            reason: format!("sink answered {status}"),
        },
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date; capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    let d = if let Ok(secs) = v.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
        let when = SystemTime::UNIX_EPOCH
            + Duration::from_millis(u64::try_from(when.timestamp_millis()).ok()?);
        when.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new(Duration::from_millis(100), Duration::from_secs(5))
    }

    #[test]
    fn delay_grows_exponentially_and_is_capped() {
        let p = policy();
        assert_eq!(p.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(p.delay(2, 1.0), Duration::from_millis(200));
        assert_eq!(p.delay(4, 1.0), Duration::from_millis(800));
        assert_eq!(p.delay(30, 1.0), Duration::from_secs(5));
        assert_eq!(p.delay(u32::MAX, 1.0), Duration::from_secs(5));
    }

    #[test]
    fn jitter_keeps_at_least_half_the_step() {
        let p = policy();
        assert_eq!(p.delay(3, 0.0), Duration::from_millis(200));
        let mid = p.delay(3, 0.5);
        assert!(
            mid > Duration::from_millis(200) && mid < Duration::from_millis(400),
            "{mid:?}"
        );
    }

    #[test]
    fn knative_retry_statuses() {
        let now = SystemTime::now();
        for s in [404, 408, 409, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify(s, None, now), Verdict::Retry { .. }),
                "{s}"
            );
        }
        for s in [200, 201, 202, 204] {
            assert_eq!(classify(s, None, now), Verdict::Done, "{s}");
        }
        for s in [400, 401, 403, 405, 413, 415, 422, 301] {
            assert!(
                matches!(classify(s, None, now), Verdict::Reject { status: Some(x), .. } if x == s),
                "{s}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("999999", now), Some(MAX_RETRY_AFTER));
        let v = classify(429, Some("3"), now);
        assert_eq!(
            v,
            Verdict::Retry {
                after: Some(Duration::from_secs(3)),
                reason: "sink answered 429".into()
            }
        );
    }
}
