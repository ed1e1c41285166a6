//! Which time range the next query covers, given the watermark.
//!
//! A pure function of (watermark, floor, now), so the overlap, the catch-up
//! chunking and the seven-day retention limit are tested without a clock.
//!
//! CTS treats `from` and `to` as exclusive (cts-api.md §1.2), so a window
//! `(from, to)` returns traces with `from < time < to`. The next window starts
//! at `watermark - lateness - 1`, which re-covers the lateness span and the
//! watermark's own millisecond.

use std::time::Duration;

/// CTS keeps traces for seven days (cts-api.md §1.3).
pub const RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;

/// Queries never start closer than this to the retention edge, so a clock
/// difference with the server cannot make CTS refuse or clamp the window.
const RETENTION_MARGIN_MS: i64 = 60_000;

/// One query range, epoch milliseconds, both ends exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start (exclusive).
    pub from_ms: i64,
    /// End (exclusive).
    pub to_ms: i64,
}

/// The next window and what it means for the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The range to query.
    pub window: Window,
    /// True when the window reaches `now`: after it, wait for the poll interval.
    pub caught_up: bool,
    /// Set when the range the watermark asks for is older than CTS keeps:
    /// traces between this and `window.from_ms` can only come from archives.
    pub lost_before_ms: Option<i64>,
}

/// Plans windows for one follower.
#[derive(Debug, Clone, Copy)]
pub struct Planner {
    lateness_ms: i64,
    max_window_ms: i64,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Planner {
    /// A planner overlapping by `lateness`, covering at most `max_window` per query.
    pub fn new(lateness: Duration, max_window: Duration) -> Planner {
        Planner {
            lateness_ms: ms(lateness),
            max_window_ms: ms(max_window).max(1),
        }
    }

    /// The lateness in milliseconds.
    pub fn lateness_ms(&self) -> i64 {
        self.lateness_ms
    }

    /// The next window after `watermark_ms`, never starting before `floor_ms`
    /// (the start point of a fresh run) nor before CTS's retention.
    pub fn next(&self, watermark_ms: i64, floor_ms: i64, now_ms: i64) -> Plan {
        let wanted = watermark_ms
            .saturating_sub(self.lateness_ms)
            .saturating_sub(1)
            .max(floor_ms);
        let oldest = now_ms - RETENTION_MS + RETENTION_MARGIN_MS;
        let from_ms = wanted.max(oldest);
        let lost_before_ms = (wanted < oldest && watermark_ms < oldest).then_some(wanted);
        let base = watermark_ms.max(from_ms);
        let to_ms = base
            .saturating_add(self.max_window_ms)
            .min(now_ms)
            .max(from_ms + 1);
        Plan {
            window: Window { from_ms, to_ms },
            caught_up: to_ms >= now_ms,
            lost_before_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;
    const MIN: i64 = 60_000;

    fn planner() -> Planner {
        Planner::new(Duration::from_secs(180), Duration::from_secs(3600))
    }

    #[test]
    fn fresh_start_begins_exactly_at_the_floor() {
        let floor = NOW - 5 * MIN;
        let p = planner().next(floor, floor, NOW);
        assert_eq!(
            p.window,
            Window {
                from_ms: floor,
                to_ms: NOW
            }
        );
        assert!(p.caught_up);
        assert_eq!(p.lost_before_ms, None);
    }

    #[test]
    fn steady_state_overlaps_by_the_lateness_window() {
        let wm = NOW - 5 * MIN;
        let p = planner().next(wm, i64::MIN, NOW);
        assert_eq!(p.window.from_ms, wm - 3 * MIN - 1);
        assert_eq!(p.window.to_ms, NOW);
        assert!(p.caught_up);
    }

    #[test]
    fn catching_up_is_chunked() {
        let wm = NOW - 5 * 60 * MIN;
        let p = planner().next(wm, i64::MIN, NOW);
        assert_eq!(p.window.to_ms, wm + 60 * MIN);
        assert!(!p.caught_up);
    }

    #[test]
    fn retention_limits_the_start_and_reports_the_loss() {
        let wm = NOW - RETENTION_MS - 60 * MIN;
        let p = planner().next(wm, i64::MIN, NOW);
        assert_eq!(p.window.from_ms, NOW - RETENTION_MS + MIN);
        assert!(p.window.to_ms > p.window.from_ms);
        assert_eq!(p.lost_before_ms, Some(wm - 3 * MIN - 1));
    }

    #[test]
    fn a_clock_behind_the_watermark_still_gives_a_valid_window() {
        let wm = NOW + 10 * MIN;
        let p = planner().next(wm, i64::MIN, NOW);
        assert!(p.window.to_ms > p.window.from_ms);
        assert!(p.caught_up);
    }
}
