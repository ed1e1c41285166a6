//! Makes traces visible over time: the history prefilled at start, the live
//! stream at the configured rate, and the ingestion delay between a trace's
//! `time` and the moment CTS shows it (its `record_time`). A trace waits in
//! a pending queue until its visibility time has passed; because delays are
//! random, a trace can become visible after newer ones ("late arrival").

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::generator::{Generator, TenantSpec, TraceRecord};
use crate::ids::sub_seed;
use crate::render::trace_json;
use crate::store::ProjectStore;
use crate::EmulatorConfig;

/// A generated trace waiting for its visibility time.
#[derive(Debug)]
struct Pending {
    visible_at: i64,
    seq: u64,
    rec: TraceRecord,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.visible_at, self.seq) == (other.visible_at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.visible_at, self.seq).cmp(&(other.visible_at, other.seq))
    }
}

/// Generation and ingestion state of one project.
#[derive(Debug)]
pub(crate) struct Feed {
    generator: Generator,
    delays: StdRng,
    pending: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    max_delay_ms: i64,
    rate_per_ms: f64,
    next_live_ms: f64,
    shape: crate::Shape,
}

impl Feed {
    /// A feed for one project, with its history generated (not yet ingested).
    pub fn new(cfg: &EmulatorConfig, project_name: &str, now_ms: i64) -> Feed {
        let spec = TenantSpec::new(cfg.domain_name.clone(), project_name, cfg.users);
        let mut feed = Feed {
            generator: Generator::new(cfg.seed, spec),
            delays: StdRng::seed_from_u64(sub_seed(
                cfg.seed,
                &["delays", &cfg.domain_name, project_name],
            )),
            pending: BinaryHeap::new(),
            seq: 0,
            max_delay_ms: cfg.max_ingestion_delay.as_millis() as i64,
            rate_per_ms: cfg.live_rate_per_sec / 1000.0,
            next_live_ms: now_ms as f64,
            shape: cfg.shape,
        };
        let index = cfg
            .projects
            .iter()
            .position(|p| p == project_name)
            .unwrap_or(0);
        if !cfg.scenarios.is_empty() {
            feed.generator.set_home(index, cfg.projects.len());
        }
        let span_ms = cfg.history_span.as_millis() as i64;
        let mut times: Vec<i64> = (0..cfg.history_count)
            .map(|_| now_ms - feed.delays.gen_range(1..=span_ms.max(1)))
            .collect();
        times.sort_unstable();
        for t in times {
            let rec = feed.generator.next_record(t);
            feed.enqueue(rec);
        }
        // Scenarios of this project, spread over the last tenth of the history.
        let mine: Vec<_> = cfg
            .scenarios
            .iter()
            .filter(|s| s.project_index() == index)
            .collect();
        let mut rng = StdRng::seed_from_u64(sub_seed(
            cfg.seed,
            &["scenarios", &cfg.domain_name, project_name],
        ));
        let tenth = (span_ms / 10).max(1);
        for (k, s) in mine.iter().enumerate() {
            let at = now_ms - tenth + tenth * k as i64 / (mine.len() as i64 + 1);
            for rec in feed.generator.scenario(**s, at, now_ms, &mut rng) {
                feed.enqueue(rec);
            }
        }
        if feed.rate_per_ms > 0.0 {
            feed.next_live_ms += feed.gap_ms();
        }
        feed
    }

    fn gap_ms(&mut self) -> f64 {
        // Exponential inter-arrival times: a Poisson stream at the given rate.
        let u: f64 = self.delays.gen_range(f64::EPSILON..1.0);
        -u.ln() / self.rate_per_ms
    }

    fn enqueue(&mut self, rec: TraceRecord) {
        let delay = if self.max_delay_ms > 0 {
            self.delays.gen_range(0..=self.max_delay_ms)
        } else {
            0
        };
        self.seq += 1;
        self.pending.push(Reverse(Pending {
            visible_at: rec.time + delay,
            seq: self.seq,
            rec,
        }));
    }

    /// Generates live traces due by `now_ms` and moves every trace whose
    /// visibility time has come into `store`. Returns how many became visible.
    pub fn catch_up(&mut self, now_ms: i64, store: &std::sync::RwLock<ProjectStore>) -> usize {
        if self.rate_per_ms > 0.0 {
            while self.next_live_ms <= now_ms as f64 {
                let rec = self.generator.next_record(self.next_live_ms as i64);
                self.enqueue(rec);
                self.next_live_ms += self.gap_ms();
            }
        }
        let mut due = Vec::new();
        while self
            .pending
            .peek()
            .is_some_and(|p| p.0.visible_at <= now_ms)
        {
            if let Some(Reverse(p)) = self.pending.pop() {
                due.push(p);
            }
        }
        if due.is_empty() {
            return 0;
        }
        // Only the feed (under its own lock) writes the store, so record
        // times can be assigned and rendered before taking the write lock.
        let mut last = match store.read() {
            Ok(s) => s.last_record_time(),
            Err(poisoned) => poisoned.into_inner().last_record_time(),
        }
        .unwrap_or(i64::MIN);
        let mut rendered = Vec::with_capacity(due.len());
        for p in due {
            let rt = p.visible_at.max(last.saturating_add(1));
            last = rt;
            let json = Bytes::from(trace_json(&p.rec, self.shape, "trace_rating", rt).to_string());
            rendered.push((p.rec, rt, json));
        }
        let n = rendered.len();
        let mut s = match store.write() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (rec, rt, json) in rendered {
            s.push(&rec, rt, json);
        }
        n
    }

    /// Number of generated traces not yet visible.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}
