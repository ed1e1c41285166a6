//! What a run does: the size of the tenant, the emulator's standing faults and
//! the ordered list of faults to inject. Kept as plain data so the schedule of
//! each form can be checked without starting anything.

use std::fmt;
use std::time::Duration;

/// The two documented forms of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// About 10,000 traces, each fault once; for CI (under 5 minutes).
    Short,
    /// At least 100,000 traces, every fault as often as issue 6 asks.
    Long,
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Form::Short => "short",
            Form::Long => "long",
        })
    }
}

/// One step of the fault schedule, executed in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Let traces flow for this long (processes are watched meanwhile).
    Sleep(Duration),
    /// SIGKILL sink `n` (0 or 1), wait `down`, start it again on the same port.
    KillSink { sink: usize, down: Duration },
    /// SIGKILL exporter `n` (0 or 1), wait `down`, start it again from its
    /// state file, pointed at the other sink.
    KillExporter { exporter: usize, down: Duration },
    /// Stop the suite's Neo4j (`scripts/neo4j-local stop`).
    StopNeo4j,
    /// Start Neo4j again once it has been stopped for `outage`, and wait
    /// until it is ready.
    StartNeo4j { outage: Duration },
}

/// The kinds of injected faults, as the report counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// A sink killed with SIGKILL and restarted.
    SinkKill,
    /// Neo4j stopped and restarted.
    Neo4jOutage,
    /// Exporter A killed with SIGKILL and restarted.
    ExporterAKill,
    /// Exporter B killed with SIGKILL and restarted.
    ExporterBKill,
}

impl Step {
    /// The fault this step injects, if it injects one (a Neo4j outage is
    /// counted at its start).
    pub fn fault(&self) -> Option<FaultKind> {
        match self {
            Step::KillSink { .. } => Some(FaultKind::SinkKill),
            Step::KillExporter { exporter: 0, .. } => Some(FaultKind::ExporterAKill),
            Step::KillExporter { .. } => Some(FaultKind::ExporterBKill),
            Step::StopNeo4j => Some(FaultKind::Neo4jOutage),
            Step::Sleep(_) | Step::StartNeo4j { .. } => None,
        }
    }
}

/// Everything that differs between the short and the long form.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Which form this is.
    pub form: Form,
    /// Traces of history per project, generated at the emulator's start.
    pub history_per_project: usize,
    /// The history covers this many seconds before the emulator's start.
    pub history_span_secs: u64,
    /// New traces per second and project while the suite runs.
    pub live_rate: f64,
    /// A trace becomes visible up to this long after its time (real seconds).
    pub max_ingestion_delay_secs: u64,
    /// The exporters' `CTS_LATENESS_SECS`: equal to the largest delay, unless
    /// a negative control lowers it on purpose.
    pub exporter_lateness_secs: u64,
    /// Share of CTS requests the emulator answers 500.
    pub fault_500_share: f64,
    /// Share of CTS requests the emulator answers 429.
    pub fault_429_share: f64,
    /// The faults, in order, starting once both exporters run.
    pub steps: Vec<Step>,
    /// How long the exporters get to pass the cut-off after the last step.
    pub drain_timeout: Duration,
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// How long Neo4j stays stopped (issue 6: 20 s).
pub const NEO4J_OUTAGE: Duration = secs(20);

impl Profile {
    /// The profile of `form`.
    pub fn new(form: Form) -> Profile {
        let sink = |n| Step::KillSink {
            sink: n,
            down: secs(2),
        };
        let exporter = |n| Step::KillExporter {
            exporter: n,
            down: secs(1),
        };
        let neo4j_back = Step::StartNeo4j {
            outage: NEO4J_OUTAGE,
        };
        match form {
            // Exporters start ~25 s after Neo4j is reset; this schedule takes
            // ~90 s (Neo4j needs ~25 s to start again), the drain ~10 s.
            Form::Short => Profile {
                form,
                history_per_project: 4_300,
                history_span_secs: 900,
                live_rate: 30.0,
                max_ingestion_delay_secs: 180,
                exporter_lateness_secs: 180,
                fault_500_share: 0.05,
                fault_429_share: 0.02,
                steps: vec![
                    Step::Sleep(secs(4)), // the history is loading
                    sink(0),
                    Step::Sleep(secs(10)),
                    exporter(0),
                    Step::Sleep(secs(8)),
                    Step::StopNeo4j,
                    Step::Sleep(secs(8)),
                    exporter(1), // while every send of B is retrying
                    neo4j_back,
                    Step::Sleep(secs(12)),
                ],
                drain_timeout: secs(120),
            },
            Form::Long => Profile {
                form,
                history_per_project: 45_000,
                history_span_secs: 7_200,
                live_rate: 60.0,
                max_ingestion_delay_secs: 180,
                exporter_lateness_secs: 180,
                fault_500_share: 0.05,
                fault_429_share: 0.02,
                steps: vec![
                    Step::Sleep(secs(10)), // the history is loading
                    sink(0),
                    Step::Sleep(secs(25)),
                    exporter(0),
                    Step::Sleep(secs(25)),
                    sink(1),
                    Step::Sleep(secs(25)),
                    exporter(1),
                    Step::Sleep(secs(40)),
                    Step::StopNeo4j,
                    Step::Sleep(secs(8)),
                    exporter(0), // while every send of A is retrying
                    neo4j_back,
                    Step::Sleep(secs(1)),
                    sink(0), // while the backlog of the outage is written
                    Step::Sleep(secs(60)),
                    exporter(1),
                    Step::Sleep(secs(90)),
                ],
                drain_timeout: secs(600),
            },
        }
    }

    /// How many faults of `kind` the schedule injects.
    pub fn planned(&self, kind: FaultKind) -> usize {
        self.steps
            .iter()
            .filter(|s| s.fault() == Some(kind))
            .count()
    }

    /// Minutes the exporters look back at their first start: the whole
    /// history plus a margin for the start-up.
    pub fn look_back_minutes(&self) -> u64 {
        self.history_span_secs.div_ceil(60) + 5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_injects_each_fault_once_and_long_as_issue_6_asks() {
        let short = Profile::new(Form::Short);
        for kind in [
            FaultKind::SinkKill,
            FaultKind::Neo4jOutage,
            FaultKind::ExporterAKill,
            FaultKind::ExporterBKill,
        ] {
            assert_eq!(short.planned(kind), 1, "{kind:?} in the short form");
        }
        let long = Profile::new(Form::Long);
        assert_eq!(long.planned(FaultKind::SinkKill), 3);
        assert_eq!(long.planned(FaultKind::Neo4jOutage), 1);
        assert_eq!(long.planned(FaultKind::ExporterAKill), 2);
        assert_eq!(long.planned(FaultKind::ExporterBKill), 2);
    }

    #[test]
    fn every_outage_is_closed_and_the_faults_match_the_issue() {
        for form in [Form::Short, Form::Long] {
            let p = Profile::new(form);
            let stops = p.steps.iter().filter(|s| **s == Step::StopNeo4j).count();
            let starts = p
                .steps
                .iter()
                .filter(|s| matches!(s, Step::StartNeo4j { outage } if *outage == NEO4J_OUTAGE))
                .count();
            assert_eq!((stops, starts), (1, 1), "{form}");
            let stop_at = p.steps.iter().position(|s| *s == Step::StopNeo4j);
            let start_at = p
                .steps
                .iter()
                .position(|s| matches!(s, Step::StartNeo4j { .. }));
            assert!(
                stop_at < start_at,
                "{form}: Neo4j is stopped before it is started"
            );
            assert_eq!((p.fault_500_share, p.fault_429_share), (0.05, 0.02));
            assert_eq!(
                p.max_ingestion_delay_secs, 180,
                "3 minutes late, not compressed"
            );
            assert_eq!(
                p.exporter_lateness_secs, p.max_ingestion_delay_secs,
                "the exporters' overlap covers the delay"
            );
            assert!(p.look_back_minutes() * 60 > p.history_span_secs);
        }
    }
}
