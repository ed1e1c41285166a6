//! Detection rules: Cypher queries over the audit graph that raise
//! [`Finding`]s without anyone asking, plus the graph side of a detector
//! (its stored position and the `Finding` nodes).
//!
//! A rule ([`Rule`], all of them in [`RULES`]) is one fixed, parameterised
//! query. It looks at the actions **stored** since a point in time (the
//! `Action.storedAt` the writer sets at each write, so a trace that arrives
//! late, with an old `time`, is still seen) and may read the whole graph for
//! history ("an IP never seen for this user"). Each result row becomes a
//! [`Candidate`] with a key that is deterministic for the rule, so the
//! [`Finding`] id (a hash of rule and key) is the same whenever the same
//! situation is found again: a rerun over overlapping actions, a restart, or
//! two detectors, merge into one `Finding` node instead of alerting twice.
//!
//! The loop that runs rules every few seconds and sends findings lives in the
//! `neo4j-sink detect` binary; this module gives it the pieces:
//! [`evaluate`] a rule, [`record`] its candidates as `Finding` nodes linked
//! `EVIDENCE` to the actions, [`load_position`] / [`save_position`] of a
//! named detector, [`unsent`] findings and [`mark_sent`]. `docs/detections.md`
//! documents each rule and is checked against [`RULES`] by a test.
//!
//! The same rules as for the playbook hold: values only travel as
//! parameters, every rule takes a `projects` list (empty = every project),
//! and rows come back in a complete order.

mod engine;
mod markdown;
mod rules;
mod settings;

pub use engine::{
    db_now_ms, evaluate, finding_id, load_position, mark_sent, record, save_position, unsent,
};
pub use markdown::markdown;
pub use rules::RULES;
pub use settings::RuleSettings;

/// How urgent a finding of a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// Worth knowing, rarely urgent (a user's first action in a project).
    Low,
    /// Look at it today.
    Medium,
    /// Look at it now.
    High,
}

impl Severity {
    /// The lower-case name used in events, metrics and the graph.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// A tunable value of a rule (a threshold, a window, an hour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleParam {
    /// The name in the Cypher text (`$name`), snake_case, e.g. `window_secs`.
    pub name: &'static str,
    /// The value used when no setting gives one (an integer, or a time zone name for `tz`).
    pub default: &'static str,
    /// Smallest allowed integer value (`None` for a text parameter).
    pub min: Option<i64>,
    /// Largest allowed integer value.
    pub max: Option<i64>,
    /// What the value means.
    pub description: &'static str,
}

/// One detection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    /// Stable kebab-case name; the CloudEvent type is `com.otc.cts.finding.<name>`.
    pub name: &'static str,
    /// One line saying what the rule finds.
    pub title: &'static str,
    /// How urgent its findings are.
    pub severity: Severity,
    /// Why the pattern matters and how to read a finding.
    pub rationale: &'static str,
    /// The CTS operations the rule watches (`service_type` / `trace_name`),
    /// with notes where the exact OTC name is uncertain.
    pub watches: &'static str,
    /// The Cypher text. Parameters: `$since_ms` (epoch ms: actions stored at
    /// or after it are new), `$projects`, and each of [`Rule::params`].
    /// Columns: `key`, `actions`, `users`, `resources`, `ips`, `summary`.
    pub cypher: &'static str,
    /// The tunable values.
    pub params: &'static [RuleParam],
}

/// The rule called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.name == name)
}

/// One result row of a rule, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Candidate {
    /// The rule's deterministic key of the situation (e.g. user key + IP).
    pub key: String,
    /// Trace ids of the actions that raised it (deduplicated, sorted).
    pub actions: Vec<String>,
    /// Users involved (names).
    pub users: Vec<String>,
    /// Resources involved (names, else ids).
    pub resources: Vec<String>,
    /// Source IP addresses involved.
    pub ips: Vec<String>,
    /// One line for a person.
    pub summary: String,
}

/// A finding as stored in the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Deterministic id: [`finding_id`] of rule and key.
    pub id: String,
    /// The rule's name.
    pub rule: String,
    /// The rule's severity when the finding was created.
    pub severity: String,
    /// The situation's key within the rule.
    pub key: String,
    /// See [`Candidate`].
    pub actions: Vec<String>,
    /// See [`Candidate`].
    pub users: Vec<String>,
    /// See [`Candidate`].
    pub resources: Vec<String>,
    /// See [`Candidate`].
    pub ips: Vec<String>,
    /// See [`Candidate`].
    pub summary: String,
    /// When the finding was first stored, ISO-8601 UTC.
    pub created_at: String,
}

impl Finding {
    /// A read-only Cypher query that shows the finding and its evidence:
    /// the actions and everything they point at (for Neo4j Browser or
    /// `neo4j-sink query --cypher`).
    pub fn evidence_query(&self) -> String {
        // The id is `<rule>:<hex>`, both from fixed alphabets, so it can be quoted safely.
        format!(
            "MATCH p = (f:Finding {{id: '{}'}})-[:EVIDENCE]->(a:Action)-[]->() RETURN p",
            self.id
        )
    }
}
