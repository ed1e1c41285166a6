//! De-duplication by trace id, with bounded memory.
//!
//! Windows overlap by the lateness window, so the same trace is fetched more
//! than once on purpose; it must be sent once. An id is *claimed* when its
//! delivery starts, *completed* when the sink acknowledged or refused it, and
//! *released* if the delivery was abandoned (so a later window sends it
//! again). Completed ids older than the horizon (watermark minus lateness)
//! can never be fetched again and are evicted; a hard capacity bounds the
//! set even if a window is enormous.
//!
//! When the cap is reached inside a window, the ids that can still come
//! back must stay: those at or before the previous watermark (the overlap
//! this window re-reads, newest first, so possibly not yet re-read) and
//! those in the lateness span before this window's end (the overlap the next
//! window re-reads). The poller declares both with [`Seen::protect`]; the
//! delivered ids between them were read once in this window and are dropped
//! first. Only when that is not enough are the oldest dropped, which may
//! resend a trace but never loses one.
//!
//! Ids in the canonical UUID form (what CTS issues) are stored as 16 bytes
//! instead of a 36-byte string, which keeps a full set small.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};

/// A trace id as stored: a canonical lower-case UUID packed into two words, or the text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Uuid([u64; 2]),
    Text(Box<str>),
}

impl Key {
    fn new(id: &str) -> Key {
        parse_uuid(id).map_or_else(|| Key::Text(id.into()), Key::Uuid)
    }

    fn to_id(&self) -> String {
        match self {
            Key::Text(t) => t.to_string(),
            Key::Uuid([hi, lo]) => {
                let h = format!("{hi:016x}{lo:016x}");
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )
            }
        }
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lower-case hex, else `None`.
fn parse_uuid(id: &str) -> Option<[u64; 2]> {
    let b = id.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        v = (v << 4) | u128::from(d);
    }
    Some([(v >> 64) as u64, v as u64])
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    time_ms: i64,
    done: bool,
}

/// The ids claimed or delivered within the horizon.
#[derive(Debug)]
pub struct Seen {
    map: HashMap<Key, Entry>,
    capacity: usize,
    /// Ids with a time in `(low, high)` cannot be fetched again (see [`Seen::protect`]).
    evictable: Option<(i64, i64)>,
    /// Whether dropping possibly re-read ids was already reported for this range.
    warned: bool,
}

impl Seen {
    /// An empty set holding at most about `capacity` ids.
    pub fn new(capacity: usize) -> Seen {
        Seen {
            map: HashMap::new(),
            capacity: capacity.max(1),
            evictable: None,
            warned: false,
        }
    }

    /// Declares that delivered ids with a time strictly between `low` and
    /// `high` will not be fetched again, so they go first when the cap is hit.
    ///
    /// Without a declared range (archive backfill, where traces come in no
    /// time order) a full set simply forgets its oldest ids.
    pub fn protect(&mut self, low: i64, high: i64) {
        self.evictable = Some((low, high));
        self.warned = false;
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Claims `id` for delivery; false if it is already claimed or delivered.
    pub fn claim(&mut self, id: &str, time_ms: i64) -> bool {
        let key = Key::new(id);
        if self.map.contains_key(&key) {
            return false;
        }
        if self.map.len() >= self.capacity {
            self.shrink();
        }
        self.map.insert(
            key,
            Entry {
                time_ms,
                done: false,
            },
        );
        true
    }

    /// Marks `id` as delivered (acknowledged or refused for good).
    pub fn complete(&mut self, id: &str) {
        if let Some(e) = self.map.get_mut(&Key::new(id)) {
            e.done = true;
        }
    }

    /// True when no id is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Forgets a claim whose delivery was abandoned.
    pub fn release(&mut self, id: &str) {
        let key = Key::new(id);
        if self.map.get(&key).is_some_and(|e| !e.done) {
            self.map.remove(&key);
        }
    }

    /// Forgets every claim still in flight (after abandoning them at shutdown).
    pub fn release_all_pending(&mut self) {
        self.map.retain(|_, e| e.done);
    }

    /// Drops delivered ids whose trace time is before `horizon_ms`.
    pub fn evict_before(&mut self, horizon_ms: i64) {
        self.map.retain(|_, e| !e.done || e.time_ms >= horizon_ms);
    }

    /// Delivered ids and their times, for the state file.
    pub fn delivered(&self) -> impl Iterator<Item = (String, i64)> + '_ {
        self.map
            .iter()
            .filter(|(_, e)| e.done)
            .map(|(k, e)| (k.to_id(), e.time_ms))
    }

    /// Restores delivered ids from the state file.
    pub fn restore<'a>(&mut self, ids: impl IntoIterator<Item = (&'a str, i64)>) {
        for (id, time_ms) in ids {
            self.map.insert(
                Key::new(id),
                Entry {
                    time_ms,
                    done: true,
                },
            );
        }
    }

    /// Makes room when the cap is reached: first every delivered id that
    /// cannot come back, else the oldest delivered tenth.
    fn shrink(&mut self) {
        if let Some((low, high)) = self.evictable {
            let before = self.map.len();
            self.map
                .retain(|_, e| !(e.done && low < e.time_ms && e.time_ms < high));
            if self.map.len() < self.capacity {
                tracing::debug!(
                    dropped = before - self.map.len(),
                    "de-duplication set full; forgot ids that cannot come back"
                );
                return;
            }
            if !self.warned {
                self.warned = true;
                tracing::warn!(
                    capacity = self.capacity,
                    "de-duplication set full of ids that may still be fetched again; forgetting the oldest, \
                     which may resend some traces (raise the de-duplication capacity, CTS_DEDUP_CAPACITY in cts-exporter, or lower the maximum window)"
                );
            }
        } else {
            tracing::debug!(
                capacity = self.capacity,
                "de-duplication set full; forgetting the oldest ids"
            );
        }
        let mut times: Vec<i64> = self
            .map
            .values()
            .filter(|e| e.done)
            .map(|e| e.time_ms)
            .collect();
        if times.is_empty() {
            return;
        }
        let k = (self.capacity / 10).clamp(1, times.len()) - 1;
        let (_, cutoff, _) = times.select_nth_unstable(k);
        let cutoff = *cutoff;
        self.map.retain(|_, e| !e.done || e.time_ms > cutoff);
    }
}

/// How many undecodable traces a [`Reported`] remembers.
pub const REPORTED_CAPACITY: usize = 10_000;

/// Undecodable traces already reported, by a hash of their raw JSON, with
/// bounded memory (the oldest forgotten first): overlapping and retried
/// windows read the same undecodable trace again, and it is reported once.
#[derive(Debug, Default)]
pub struct Reported {
    set: HashSet<u64>,
    order: VecDeque<u64>,
}

impl Reported {
    /// True the first time `raw` is seen (within the last [`REPORTED_CAPACITY`]).
    pub fn first_time(&mut self, raw: &str) -> bool {
        let mut h = DefaultHasher::new();
        raw.hash(&mut h);
        let key = h.finish();
        if !self.set.insert(key) {
            return false;
        }
        self.order.push_back(key);
        if self.order.len() > REPORTED_CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_complete_release() {
        let mut s = Seen::new(100);
        assert!(s.claim("a", 10));
        assert!(!s.claim("a", 10), "in flight counts as seen");
        s.complete("a");
        assert!(!s.claim("a", 10), "delivered counts as seen");
        assert!(s.claim("b", 20));
        s.release("b");
        assert!(s.claim("b", 20), "released ids can be claimed again");
        s.complete("a");
        s.release("a");
        assert!(!s.claim("a", 10), "release never forgets a delivered id");
    }

    #[test]
    fn horizon_evicts_only_old_delivered_ids() {
        let mut s = Seen::new(100);
        for (id, t) in [("old", 5), ("new", 50), ("pending-old", 1)] {
            s.claim(id, t);
        }
        s.complete("old");
        s.complete("new");
        s.evict_before(10);
        assert!(s.claim("old", 5), "evicted");
        assert!(!s.claim("new", 50));
        assert!(
            !s.claim("pending-old", 1),
            "in-flight ids are never evicted"
        );
    }

    #[test]
    fn capacity_bounds_memory_by_dropping_the_oldest() {
        let mut s = Seen::new(100);
        for i in 0..1000 {
            let id = format!("id{i}");
            s.claim(&id, i);
            s.complete(&id);
        }
        assert!(s.len() <= 100, "{}", s.len());
        assert!(!s.claim("id999", 999), "recent ids are kept");
        assert!(s.claim("id0", 0), "the oldest were dropped");
    }

    #[test]
    fn a_full_set_drops_ids_that_cannot_come_back_first() {
        let mut s = Seen::new(10);
        // Overlap with the previous window (times 0..=2), this window's middle
        // (3..=6) and the span the next window re-reads (7..=9).
        s.protect(2, 7);
        for t in 0..10 {
            let id = format!("id{t}");
            s.claim(&id, t);
            s.complete(&id);
        }
        assert!(s.claim("new", 5), "room was made");
        for t in [0, 1, 2, 7, 8, 9] {
            assert!(!s.claim(&format!("id{t}"), t), "protected id{t} kept");
        }
        assert!(s.claim("id4", 4), "a middle id was dropped");
    }

    #[test]
    fn uuid_ids_are_packed_and_restored_exactly() {
        let id = "e001ccb9-bc09-11e6-b00b-4b2a61338db6";
        assert!(matches!(Key::new(id), Key::Uuid(_)));
        assert_eq!(Key::new(id).to_id(), id);
        for other in [
            "E001CCB9-BC09-11E6-B00B-4B2A61338DB6",
            "e001ccb9bc0911e6b00b4b2a61338db6xxxx",
            "x1",
        ] {
            assert_eq!(Key::new(other), Key::Text(other.into()), "{other}");
        }
        let mut s = Seen::new(10);
        s.claim(id, 1);
        s.complete(id);
        assert_eq!(s.delivered().collect::<Vec<_>>(), vec![(id.to_string(), 1)]);
    }

    #[test]
    fn delivered_roundtrip_and_release_all_pending() {
        let mut s = Seen::new(10);
        s.claim("a", 1);
        s.complete("a");
        s.claim("b", 2);
        s.release_all_pending();
        let mut d: Vec<(String, i64)> = s.delivered().collect();
        d.sort();
        assert_eq!(d, vec![("a".to_string(), 1)]);
        let mut t = Seen::new(10);
        t.restore(d.iter().map(|(k, v)| (k.as_str(), *v)));
        assert!(!t.claim("a", 1));
        assert!(t.claim("b", 2));
    }

    #[test]
    fn an_undecodable_trace_is_reported_once_until_forgotten() {
        let mut r = Reported::default();
        assert!(r.first_time("{\"a\":1}"));
        assert!(!r.first_time("{\"a\":1}"));
        assert!(r.first_time("{\"a\":2}"));
        for i in 0..REPORTED_CAPACITY {
            r.first_time(&i.to_string());
        }
        assert!(r.first_time("{\"a\":1}"), "forgotten after the capacity");
        assert!(r.set.len() <= REPORTED_CAPACITY);
    }
}
