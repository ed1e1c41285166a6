//! The filters of a trace-list request and their wire encoding.
//!
//! One [`TraceQuery`] describes a query for all three API versions (the
//! per-version wire form is built in [`crate::params`]). Validation happens
//! before any request, so a bad value is reported by name instead of
//! surfacing as a CTS `400`.

use crate::{EpochMillis, Error, TraceRating};

/// The largest page size CTS allows (all versions).
pub const MAX_LIMIT: u32 = 200;

/// The tracker used when none is given: CTS allows only `system` for
/// management traces.
pub const DEFAULT_TRACKER: &str = "system";

/// Epoch milliseconds below this look like seconds (it is March 1973 in ms).
const SMALLEST_PLAUSIBLE_MS: i64 = 100_000_000_000;

/// Filters and window of a trace-list request (OTC API reference: <https://github.com/opentelekomcloud-docs/cloud-trace-service/blob/main/api-ref/source/v3_apis_recommended/trace_management/querying_a_trace_list.rst>).
///
/// Every field is optional; `None` means "not sent", and CTS applies its own
/// default (the last hour for `from`, now for `to`, 10 for `limit`).
///
/// ```
/// use cts_client::{TraceQuery, TraceRating};
/// let q = TraceQuery::new()
///     .window_ms(1_700_000_000_000, 1_700_003_600_000)
///     .limit(200)
///     .service_type("ECS")
///     .trace_rating(TraceRating::Warning);
/// assert!(q.validate().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceQuery {
    /// Tracker name. v1/v2 put it in the path (default `system`); v3 sends
    /// `tracker_name` only when set.
    pub tracker: Option<String>,
    /// Start of the window, epoch **milliseconds**, exclusive.
    pub from_ms: Option<i64>,
    /// End of the window, epoch **milliseconds**, exclusive.
    pub to_ms: Option<i64>,
    /// Page size, 1..=200.
    pub limit: Option<u32>,
    /// Upper-case service acronym, e.g. `ECS`.
    pub service_type: Option<String>,
    /// User name (case-sensitive).
    pub user: Option<String>,
    /// Resource id.
    pub resource_id: Option<String>,
    /// Resource name (case-sensitive).
    pub resource_name: Option<String>,
    /// Resource type, e.g. `eip`.
    pub resource_type: Option<String>,
    /// One trace id; CTS then ignores the other filters.
    pub trace_id: Option<String>,
    /// Operation name, e.g. `createTracker` (case-sensitive).
    pub trace_name: Option<String>,
    /// Status filter: normal, warning or incident.
    pub trace_rating: Option<TraceRating>,
    /// v3 only: `system` (management traces, sent when unset) or `data`.
    pub trace_type: Option<String>,
    /// Resume point: a `marker` from an earlier page, sent as `next`.
    pub next: Option<String>,
}

impl TraceQuery {
    /// An empty query: the last hour of the `system` tracker, CTS's default page size.
    pub fn new() -> TraceQuery {
        TraceQuery::default()
    }

    /// Sets the tracker name.
    pub fn tracker(mut self, name: impl Into<String>) -> Self {
        self.tracker = Some(name.into());
        self
    }

    /// Sets the window `(from, to)` in epoch milliseconds.
    pub fn window_ms(mut self, from_ms: i64, to_ms: i64) -> Self {
        self.from_ms = Some(from_ms);
        self.to_ms = Some(to_ms);
        self
    }

    /// Sets the window `(from, to)`: each bound an `i64` of epoch milliseconds,
    /// a [`std::time::SystemTime`] or (feature `chrono`) a `chrono::DateTime`,
    /// converted by [`EpochMillis`]. Both bounds are exclusive.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use cts_client::TraceQuery;
    ///
    /// let now = SystemTime::now();
    /// let q = TraceQuery::new().window(now - Duration::from_secs(3600), now);
    /// assert!(q.validate().is_ok());
    /// assert_eq!(q.to_ms.unwrap() - q.from_ms.unwrap(), 3_600_000);
    /// ```
    pub fn window(self, from: impl EpochMillis, to: impl EpochMillis) -> Self {
        self.window_ms(from.epoch_millis(), to.epoch_millis())
    }

    /// Sets the start of the window (exclusive); see [`TraceQuery::window`]
    /// for the types it takes.
    pub fn since(mut self, from: impl EpochMillis) -> Self {
        self.from_ms = Some(from.epoch_millis());
        self
    }

    /// Sets the end of the window (exclusive); see [`TraceQuery::window`]
    /// for the types it takes.
    pub fn until(mut self, to: impl EpochMillis) -> Self {
        self.to_ms = Some(to.epoch_millis());
        self
    }

    /// Sets the page size (validated to 1..=200 when the query is used).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Filters by service type, e.g. `ECS`.
    pub fn service_type(mut self, v: impl Into<String>) -> Self {
        self.service_type = Some(v.into());
        self
    }

    /// Filters by user name.
    pub fn user(mut self, v: impl Into<String>) -> Self {
        self.user = Some(v.into());
        self
    }

    /// Filters by resource id.
    pub fn resource_id(mut self, v: impl Into<String>) -> Self {
        self.resource_id = Some(v.into());
        self
    }

    /// Filters by resource name.
    pub fn resource_name(mut self, v: impl Into<String>) -> Self {
        self.resource_name = Some(v.into());
        self
    }

    /// Filters by resource type.
    pub fn resource_type(mut self, v: impl Into<String>) -> Self {
        self.resource_type = Some(v.into());
        self
    }

    /// Asks for one trace by id.
    pub fn trace_id(mut self, v: impl Into<String>) -> Self {
        self.trace_id = Some(v.into());
        self
    }

    /// Filters by operation name.
    pub fn trace_name(mut self, v: impl Into<String>) -> Self {
        self.trace_name = Some(v.into());
        self
    }

    /// Filters by status.
    pub fn trace_rating(mut self, v: TraceRating) -> Self {
        self.trace_rating = Some(v);
        self
    }

    /// Sets the v3 trace type (`system` or `data`).
    pub fn trace_type(mut self, v: impl Into<String>) -> Self {
        self.trace_type = Some(v.into());
        self
    }

    /// Starts after the given `marker` of an earlier page.
    pub fn next(mut self, marker: impl Into<String>) -> Self {
        self.next = Some(marker.into());
        self
    }

    /// Checks every field against what CTS accepts, naming the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(limit) = self.limit {
            if !(1..=MAX_LIMIT).contains(&limit) {
                return Err(invalid(
                    "limit",
                    format!(
                        "must be between 1 and {MAX_LIMIT} (CTS's maximum page size), got {limit}"
                    ),
                ));
            }
        }
        for (field, value) in [("from_ms", self.from_ms), ("to_ms", self.to_ms)] {
            if let Some(v) = value {
                if v < 0 {
                    return Err(invalid(
                        field,
                        format!("must be epoch milliseconds >= 0, got {v}"),
                    ));
                }
                if v > 0 && v < SMALLEST_PLAUSIBLE_MS {
                    return Err(invalid(
                        field,
                        format!(
                            "looks like epoch seconds ({v}); CTS expects epoch milliseconds (13 digits), e.g. {}",
                            v.saturating_mul(1000)
                        ),
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (self.from_ms, self.to_ms) {
            if from >= to {
                return Err(invalid(
                    "from_ms",
                    format!("must be earlier than to_ms (both are exclusive), got from_ms={from} to_ms={to}"),
                ));
            }
        }
        for (field, value) in self.text_filters() {
            if let Some(v) = value {
                if v.trim().is_empty() {
                    return Err(invalid(
                        field,
                        "is set but blank; leave it unset to not filter".to_owned(),
                    ));
                }
            }
        }
        if let Some(t) = &self.tracker {
            if t.trim().is_empty() {
                return Err(invalid(
                    "tracker",
                    "is blank; CTS's management tracker is `system`".to_owned(),
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn text_filters(&self) -> [(&'static str, Option<&str>); 9] {
        [
            ("service_type", self.service_type.as_deref()),
            ("user", self.user.as_deref()),
            ("resource_id", self.resource_id.as_deref()),
            ("resource_name", self.resource_name.as_deref()),
            ("resource_type", self.resource_type.as_deref()),
            ("trace_id", self.trace_id.as_deref()),
            ("trace_name", self.trace_name.as_deref()),
            ("trace_type", self.trace_type.as_deref()),
            ("next", self.next.as_deref()),
        ]
    }

    /// The tracker a v1/v2 path uses.
    pub(crate) fn path_tracker(&self) -> &str {
        self.tracker.as_deref().unwrap_or(DEFAULT_TRACKER)
    }
}

pub(crate) fn invalid(field: &'static str, problem: String) -> Error {
    Error::InvalidQuery { field, problem }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_takes_system_time_chrono_and_millis_alike() {
        use std::time::{Duration, UNIX_EPOCH};
        let (from, to) = (1_700_000_000_000_i64, 1_700_003_600_000_i64);
        let by_ms = TraceQuery::new().window_ms(from, to);
        let st = |ms: i64| UNIX_EPOCH + Duration::from_millis(ms as u64);
        assert_eq!(TraceQuery::new().window(from, to), by_ms);
        assert_eq!(TraceQuery::new().window(st(from), st(to)), by_ms);
        assert_eq!(TraceQuery::new().since(st(from)).until(to), by_ms);
        #[cfg(feature = "chrono")]
        {
            use chrono::{TimeZone, Utc};
            let dt = |ms| Utc.timestamp_millis_opt(ms).single().expect("valid");
            assert_eq!(TraceQuery::new().window(dt(from), dt(to)), by_ms);
            let borrowed = dt(from);
            #[allow(clippy::needless_borrows_for_generic_args)]
            let q = TraceQuery::new().window(&borrowed, st(to));
            assert_eq!(q, by_ms);
        }
    }

    #[test]
    fn window_before_1970_is_rejected_by_name() {
        use std::time::{Duration, UNIX_EPOCH};
        let e = TraceQuery::new()
            .window(
                UNIX_EPOCH - Duration::from_secs(1),
                UNIX_EPOCH + Duration::from_secs(1),
            )
            .validate()
            .expect_err("negative");
        assert!(e.to_string().contains("`from_ms`"), "{e}");
        // Reversed SystemTime bounds are caught like reversed milliseconds.
        let now = std::time::SystemTime::now();
        let e = TraceQuery::new()
            .window(now, now - Duration::from_secs(60))
            .validate()
            .expect_err("reversed");
        assert!(e.to_string().contains("earlier than to_ms"), "{e}");
    }

    #[test]
    fn limit_bounds() {
        assert!(TraceQuery::new().limit(1).validate().is_ok());
        assert!(TraceQuery::new().limit(200).validate().is_ok());
        for bad in [0, 201, 1000] {
            let e = TraceQuery::new()
                .limit(bad)
                .validate()
                .expect_err("out of range");
            let s = e.to_string();
            assert!(
                s.contains("`limit`")
                    && s.contains("between 1 and 200")
                    && s.contains(&bad.to_string()),
                "{s}"
            );
        }
    }

    #[test]
    fn window_checks() {
        let e = TraceQuery::new()
            .window_ms(1_700_000_000, 1_700_003_600)
            .validate()
            .expect_err("seconds");
        assert!(
            e.to_string().contains("epoch seconds") && e.to_string().contains("1700000000000"),
            "{e}"
        );
        let e = TraceQuery::new()
            .window_ms(1_700_000_000_001, 1_700_000_000_000)
            .validate()
            .expect_err("reversed");
        assert!(e.to_string().contains("earlier than to_ms"), "{e}");
        let e = TraceQuery {
            from_ms: Some(-5),
            ..TraceQuery::default()
        }
        .validate()
        .expect_err("negative");
        assert!(e.to_string().contains(">= 0"), "{e}");
        let e = TraceQuery::new().user("  ").validate().expect_err("blank");
        assert!(e.to_string().contains("`user`"), "{e}");
    }
}
