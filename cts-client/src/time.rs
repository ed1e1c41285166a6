//! Points in time as CTS takes them: epoch milliseconds.
//!
//! [`EpochMillis`] lets [`crate::TraceQuery::window`], [`crate::TraceQuery::since`] and
//! [`crate::TraceQuery::until`] take an `i64` of epoch milliseconds, a [`std::time::SystemTime`],
//! or (feature `chrono`, on by default) a `chrono::DateTime` in any time zone.

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time that converts to epoch milliseconds, the unit of CTS's `from`/`to`.
///
/// Sub-millisecond parts are dropped toward the past (floor), so a bound never moves later than the
/// instant given. Times beyond `i64` milliseconds (about 292 million years) saturate; times before
/// 1970 become negative and are rejected by [`crate::TraceQuery::validate`] with a message.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use cts_client::EpochMillis;
///
/// let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123) + Duration::from_micros(999);
/// assert_eq!(t.epoch_millis(), 1_700_000_000_123);
/// assert_eq!(1_700_000_000_000_i64.epoch_millis(), 1_700_000_000_000);
/// ```
pub trait EpochMillis {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn epoch_millis(&self) -> i64;
}

impl EpochMillis for i64 {
    fn epoch_millis(&self) -> i64 {
        *self
    }
}

impl EpochMillis for SystemTime {
    fn epoch_millis(&self) -> i64 {
        match self.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(e) => {
                // Before 1970: floor toward the past, i.e. round the magnitude up.
                let before = e.duration();
                let ms = before.as_millis() + u128::from(before.subsec_nanos() % 1_000_000 != 0);
                i64::try_from(ms).map(|m| -m).unwrap_or(i64::MIN)
            }
        }
    }
}

#[cfg(feature = "chrono")]
impl<Tz: chrono::TimeZone> EpochMillis for chrono::DateTime<Tz> {
    fn epoch_millis(&self) -> i64 {
        self.timestamp_millis()
    }
}

impl<T: EpochMillis + ?Sized> EpochMillis for &T {
    fn epoch_millis(&self) -> i64 {
        (**self).epoch_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn system_time_floors_to_milliseconds() {
        let base = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        assert_eq!(base.epoch_millis(), 1_700_000_000_000);
        assert_eq!(
            (base + Duration::from_nanos(999_999)).epoch_millis(),
            1_700_000_000_000
        );
        assert_eq!(UNIX_EPOCH.epoch_millis(), 0);
    }

    #[test]
    fn before_1970_is_negative_and_floored() {
        assert_eq!((UNIX_EPOCH - Duration::from_millis(5)).epoch_millis(), -5);
        assert_eq!(
            (UNIX_EPOCH - Duration::from_micros(1_500)).epoch_millis(),
            -2
        );
    }

    #[test]
    fn far_future_saturates() {
        // SystemTime on Linux reaches far beyond i64 milliseconds.
        if let Some(far) = UNIX_EPOCH.checked_add(Duration::from_secs(u64::MAX / 2)) {
            assert_eq!(far.epoch_millis(), i64::MAX);
        }
    }

    #[cfg(feature = "chrono")]
    #[test]
    fn chrono_in_any_zone_is_the_same_instant() {
        use chrono::{FixedOffset, TimeZone, Utc};
        let utc = Utc
            .timestamp_millis_opt(1_700_000_000_123)
            .single()
            .expect("valid");
        let cet = utc.with_timezone(&FixedOffset::east_opt(3600).expect("offset"));
        assert_eq!(utc.epoch_millis(), 1_700_000_000_123);
        assert_eq!(cet.epoch_millis(), 1_700_000_000_123);
        let st: SystemTime = utc.into();
        assert_eq!(st.epoch_millis(), utc.epoch_millis());
    }
}
