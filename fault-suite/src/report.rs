//! The printed result: one Markdown table (so a run can be pasted into
//! docs/reliability.md as it is), the verdict, and on failure the first
//! offending ids and the logs to read.

use std::fmt::Write as _;
use std::time::Duration;

use crate::graph::{KeyCheck, RepeatedRel};
use crate::procs::Unexpected;
use crate::truth::Comparison;

/// How one process answered the final SIGTERM.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// Process name.
    pub name: String,
    /// Exit code; `None` when it did not exit within the bound (or died by a signal).
    pub code: Option<i32>,
    /// Time from SIGTERM to exit.
    pub took: Duration,
}

/// One kind of injected fault.
#[derive(Debug, Clone)]
pub struct FaultLine {
    /// What was done.
    pub what: String,
    /// How often the schedule asks for it.
    pub planned: usize,
    /// How often it was done.
    pub injected: usize,
}

/// One exporter's restarts.
#[derive(Debug, Clone, Default)]
pub struct Restarts {
    /// Exporter name.
    pub name: String,
    /// Restarts (incarnations after the first).
    pub restarts: usize,
    /// Of them, started while its state file existed: these must resume from it.
    pub with_state: usize,
    /// Of those, the ones whose log says they resumed from the state file.
    pub resumed: usize,
}

/// Everything the table shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// `short` or `long`.
    pub form: String,
    /// The seed of the run's schedule and emulator.
    pub seed: u64,
    /// Found traces older than their exporter's first lower edge (not owed).
    pub before_edge: usize,
    /// Sink kills timed inside a Neo4j write (queue depth above 0).
    pub in_tx_hits: usize,
    /// Exporter kills within 10 s of that incarnation's start.
    pub early_exporter_kills: usize,
    /// Injected faults.
    pub faults: Vec<FaultLine>,
    /// CTS answers 500 / 429 the exporters saw (from their logs).
    pub cts_500: usize,
    /// See `cts_500`.
    pub cts_429: usize,
    /// Traces versus truth.
    pub comparison: Comparison,
    /// Per-label key checks.
    pub keys: Vec<KeyCheck>,
    /// Repeated relationships.
    pub repeated: Vec<RepeatedRel>,
    /// Final SIGTERM of every process.
    pub shutdowns: Vec<Shutdown>,
    /// Exits nobody asked for.
    pub unexpected: Vec<Unexpected>,
    /// Events the exporters gave up on (dead-letter lines).
    pub dead_letters: usize,
    /// Per exporter: restarts, and how many of them resumed from the state file.
    pub restarts: Vec<Restarts>,
    /// Whether both watermarks passed the cut-off in time.
    pub drained: bool,
    /// Phases and their durations.
    pub phases: Vec<(String, Duration)>,
}

/// The header of the per-seed summary of a run over several seeds.
pub const SUMMARY_HEADER: &str = "| seed | faults injected | exporter kills (first 10 s of life) | sink kills in a write | expected | found | missing / extra / duplicated | duplicate keys | clean shutdowns | duration | verdict |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|";

impl Report {
    /// One row of the per-seed summary.
    pub fn summary_line(&self) -> String {
        let c = &self.comparison;
        let injected: usize = self.faults.iter().map(|f| f.injected).sum();
        let planned: usize = self.faults.iter().map(|f| f.planned).sum();
        let kills: usize = self
            .faults
            .iter()
            .filter(|f| f.what.starts_with("exporter"))
            .map(|f| f.injected)
            .sum();
        let total: Duration = self.phases.iter().map(|(_, d)| *d).sum();
        format!(
            "| {} | {injected} of {planned} | {kills} ({}) | {} | {} | {} | {} / {} / {} | {} | {} of {} | {:.0} s | {} |",
            self.seed,
            self.early_exporter_kills,
            self.in_tx_hits,
            c.expected,
            c.found,
            c.missing.len(),
            c.extra.len(),
            c.duplicated.len(),
            self.duplicate_keys(),
            self.clean_shutdowns(),
            self.shutdowns.len(),
            total.as_secs_f64(),
            if self.failures().is_empty() { "PASS" } else { "FAIL" }
        )
    }

    /// Duplicate node keys over all labels.
    pub fn duplicate_keys(&self) -> i64 {
        self.keys.iter().map(|k| k.duplicate_keys).sum()
    }

    fn clean_shutdowns(&self) -> usize {
        self.shutdowns.iter().filter(|s| s.code == Some(0)).count()
    }

    /// Every reason the run failed; empty when it passed.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        let c = &self.comparison;
        for f in &self.faults {
            if f.injected != f.planned {
                out.push(format!(
                    "{}: injected {} of {} planned",
                    f.what, f.injected, f.planned
                ));
            }
        }
        for r in &self.restarts {
            if r.resumed != r.with_state {
                out.push(format!(
                    "{}: {} of {} restarts with a state file did not resume from it",
                    r.name,
                    r.with_state - r.resumed,
                    r.with_state
                ));
            }
        }
        if !self.drained {
            out.push("the exporters did not pass the cut-off within the drain timeout".into());
        }
        if !c.missing.is_empty() {
            out.push(format!(
                "{} traces missing, first: {}",
                c.missing.len(),
                first(&c.missing)
            ));
        }
        if !c.extra.is_empty() {
            out.push(format!(
                "{} traces in Neo4j the emulator never showed for that project, first: {}",
                c.extra.len(),
                first(&c.extra)
            ));
        }
        if !c.duplicated.is_empty() {
            let ids: Vec<String> = c
                .duplicated
                .iter()
                .map(|(id, n)| format!("{id} ×{n}"))
                .collect();
            out.push(format!(
                "{} trace ids stored more than once, first: {}",
                ids.len(),
                first(&ids)
            ));
        }
        for k in &self.keys {
            if k.duplicate_keys > 0 {
                out.push(format!(
                    "{} {}.{} values held by more than one node, e.g. {}",
                    k.duplicate_keys,
                    k.label,
                    k.key,
                    k.examples.join(", ")
                ));
            }
            if k.without_key > 0 {
                out.push(format!(
                    "{} {} nodes without {}",
                    k.without_key, k.label, k.key
                ));
            }
        }
        for r in &self.repeated {
            out.push(format!(
                "{} node pairs with more than one {} relationship",
                r.pairs, r.rel_type
            ));
        }
        for s in &self.shutdowns {
            if s.code != Some(0) {
                out.push(match s.code {
                    Some(code) => format!("{} exited {code} after SIGTERM", s.name),
                    None => format!(
                        "{} did not exit cleanly within {:.0} s of SIGTERM",
                        s.name,
                        s.took.as_secs_f64()
                    ),
                });
            }
        }
        for u in &self.unexpected {
            out.push(format!(
                "{} exited on its own ({}); log: {}",
                u.name,
                u.status,
                u.log.display()
            ));
        }
        if self.dead_letters > 0 {
            out.push(format!(
                "{} events dead-lettered by the exporters",
                self.dead_letters
            ));
        }
        out
    }

    /// The table, the phases and the verdict.
    pub fn render(&self) -> String {
        let c = &self.comparison;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| fault suite ({}, seed {}) | value |",
            self.form, self.seed
        );
        let _ = writeln!(s, "|---|---:|");
        for f in &self.faults {
            let _ = writeln!(s, "| fault: {} | {} of {} |", f.what, f.injected, f.planned);
        }
        let _ = writeln!(
            s,
            "| fault: CTS answered 500 / 429 (always on, seen by the exporters) | {} / {} |",
            self.cts_500, self.cts_429
        );
        let _ = writeln!(
            s,
            "| sink kills that landed while a Neo4j write was in flight | {} |",
            self.in_tx_hits
        );
        let resumed: Vec<String> = self
            .restarts
            .iter()
            .map(|r| {
                format!(
                    "{} {} of {} ({} restarts in all)",
                    r.name, r.resumed, r.with_state, r.restarts
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "| exporter restarts with a state file that resumed from it | {} |",
            resumed.join(", ")
        );
        let _ = writeln!(
            s,
            "| traces expected (visible at the cut-off, after the first lower edge) | {} |",
            c.expected
        );
        let _ = writeln!(s, "| traces found (Action nodes) | {} |", c.found);
        let _ = writeln!(
            s,
            "| … of them visible only after the cut-off | {} |",
            c.after_cutoff
        );
        let _ = writeln!(
            s,
            "| … of them older than their exporter's first lower edge (not owed) | {} |",
            self.before_edge
        );
        let _ = writeln!(s, "| traces missing | {} |", c.missing.len());
        let _ = writeln!(
            s,
            "| traces extra (never shown by the emulator) | {} |",
            c.extra.len()
        );
        let _ = writeln!(s, "| traces duplicated | {} |", c.duplicated.len());
        let keyed: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{} {}", k.label, k.nodes))
            .collect();
        let _ = writeln!(
            s,
            "| duplicate node keys ({} labels: {}) | {} |",
            self.keys.len(),
            keyed.join(", "),
            self.duplicate_keys()
        );
        let _ = writeln!(
            s,
            "| nodes without their key | {} |",
            self.keys.iter().map(|k| k.without_key).sum::<i64>()
        );
        let _ = writeln!(
            s,
            "| repeated relationships (same type, same two nodes) | {} |",
            self.repeated.iter().map(|r| r.pairs).sum::<i64>()
        );
        let _ = writeln!(s, "| dead-lettered events | {} |", self.dead_letters);
        let _ = writeln!(
            s,
            "| processes that exited on their own | {} |",
            self.unexpected.len()
        );
        let stops: Vec<String> = self
            .shutdowns
            .iter()
            .map(|x| match x.code {
                Some(code) => format!("{} {code} in {:.2} s", x.name, x.took.as_secs_f64()),
                None => format!("{} no exit in {:.0} s", x.name, x.took.as_secs_f64()),
            })
            .collect();
        let _ = writeln!(
            s,
            "| clean shutdowns (exit 0 after SIGTERM: {}) | {} of {} |",
            stops.join(", "),
            self.clean_shutdowns(),
            self.shutdowns.len()
        );
        let total: Duration = self.phases.iter().map(|(_, d)| *d).sum();
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(n, d)| format!("{n} {:.0} s", d.as_secs_f64()))
            .collect();
        let _ = writeln!(
            s,
            "\nduration {:.0} s ({})",
            total.as_secs_f64(),
            phases.join(", ")
        );
        let failures = self.failures();
        if failures.is_empty() {
            let _ = writeln!(
                s,
                "PASS: nothing lost, nothing duplicated, every process stopped cleanly"
            );
        } else {
            let _ = writeln!(s, "FAIL:");
            for f in failures {
                let _ = writeln!(s, "  - {f}");
            }
        }
        s
    }
}

/// The first ten items, comma-separated, with a count of the rest.
fn first(items: &[String]) -> String {
    let mut s = items
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > 10 {
        let _ = write!(s, " … ({} more)", items.len() - 10);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passing() -> Report {
        Report {
            form: "short".into(),
            faults: vec![FaultLine {
                what: "sink SIGKILL + restart".into(),
                planned: 1,
                injected: 1,
            }],
            comparison: Comparison {
                expected: 3,
                found: 3,
                ..Comparison::default()
            },
            keys: vec![KeyCheck {
                label: "Action",
                key: "traceId",
                nodes: 3,
                ..KeyCheck::default()
            }],
            shutdowns: vec![Shutdown {
                name: "sink-1".into(),
                code: Some(0),
                took: Duration::from_millis(300),
            }],
            drained: true,
            ..Report::default()
        }
    }

    #[test]
    fn a_clean_run_passes_and_says_so() {
        let r = passing();
        assert!(r.failures().is_empty(), "{:?}", r.failures());
        let text = r.render();
        assert!(
            text.contains(
                "| traces expected (visible at the cut-off, after the first lower edge) | 3 |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| clean shutdowns (exit 0 after SIGTERM: sink-1 0 in 0.30 s) | 1 of 1 |"
            ),
            "{text}"
        );
        assert!(text.contains("PASS"), "{text}");
    }

    #[test]
    fn each_defect_fails_the_run_and_is_named() {
        let mut r = passing();
        r.comparison.missing = (0..12).map(|i| format!("m{i:02}")).collect();
        r.comparison.duplicated = vec![("d1".into(), 2)];
        r.keys[0].duplicate_keys = 1;
        r.keys[0].examples = vec!["k".into()];
        r.shutdowns[0].code = Some(70);
        r.faults[0].injected = 0;
        r.drained = false;
        r.restarts = vec![Restarts {
            name: "exporter-a".into(),
            restarts: 3,
            with_state: 2,
            resumed: 1,
        }];
        let f = r.failures();
        assert_eq!(f.len(), 7, "{f:?}");
        assert!(
            f.iter()
                .any(|x| x
                    .starts_with("exporter-a: 1 of 2 restarts with a state file did not resume"))
        );
        assert!(f.iter().any(
            |x| x.starts_with("12 traces missing, first: m00, m01") && x.ends_with("(2 more)")
        ));
        assert!(f.iter().any(|x| x.contains("d1 ×2")));
        assert!(f.iter().any(|x| x.contains("sink-1 exited 70")));
        assert!(r.render().contains("FAIL:"));
    }
}
