//! Retry *classification*, kept apart from the retry loop.
//!
//! [`classify`] decides from a sink answer alone whether an event is done,
//! worth another attempt, or refused for good; it follows Knative's own
//! delivery rules (retry on 5xx, 404, 408, 409, 429 and transport errors).
//! The timing is a [`RetryPolicy`] (jittered exponential back-off), built for
//! a sink by [`sink_retry`].

use std::time::{Duration, SystemTime};

/// How long to wait between attempts and when to give up.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub initial_backoff: Duration,
    /// Upper bound of the computed delay.
    pub max_backoff: Duration,
    /// Growth factor per retry, >= 1.0.
    pub multiplier: f64,
    /// Attempts in total, including the first (1 = never retry; `u32::MAX` =
    /// for as long as the sink answers "retry").
    pub max_attempts: u32,
    /// Share of the delay that is randomized, 0.0..=1.0.
    pub jitter: f64,
    /// The longest `Retry-After` that is honoured; a longer one is cut to it.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 200 ms doubling up to 10 s, half jitter, `Retry-After` up to 2 minutes.
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            max_attempts: 5,
            jitter: 0.5,
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based): `initial_backoff *
    /// multiplier^(retry-1)`, capped at `max_backoff`, then shortened by up to
    /// `jitter` of itself according to `random` in `[0, 1)`.
    pub fn backoff(&self, retry: u32, random: f64) -> Duration {
        let exp = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let raw = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exp);
        let capped = raw.min(self.max_backoff.as_secs_f64());
        let factor = 1.0 - self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0);
        Duration::from_secs_f64((capped * factor).max(0.0))
    }
}

/// A `Retry-After` longer than this is cut down to it, so one odd header
/// cannot park an event for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(900);

/// The back-off for sink deliveries: `initial` doubling up to `max`, each
/// delay between half and all of the step, and no limit on attempts (an event
/// is retried for as long as the sink keeps answering "retry").
pub fn sink_retry(initial: Duration, max: Duration) -> RetryPolicy {
    RetryPolicy {
        initial_backoff: initial,
        max_backoff: max,
        multiplier: 2.0,
        max_attempts: u32::MAX,
        jitter: 0.5,
        max_retry_after: MAX_RETRY_AFTER,
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

    #[test]
    fn sink_backoff_doubles_keeps_half_the_step_and_never_gives_up() {
        let r = sink_retry(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(r.max_attempts, u32::MAX);
        assert_eq!(r.backoff(1, 0.0), Duration::from_millis(100));
        assert_eq!(r.backoff(4, 0.0), Duration::from_millis(800));
        assert_eq!(r.backoff(30, 0.0), Duration::from_secs(5));
        assert_eq!(
            r.backoff(3, 1.0),
            Duration::from_millis(200),
            "jitter keeps half the step"
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
