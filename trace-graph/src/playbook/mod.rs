//! The investigation playbook: the questions people ask of an audit graph,
//! each as one fixed, parameterised Cypher query that ships with the crate.
//!
//! People load traces into a graph to answer questions quickly ("who deleted
//! this server?", "what did this user touch?"). Writing the Cypher for that
//! each time is slow and easy to get subtly wrong, so the answers are part of
//! the product: [`QUESTIONS`] lists them, [`run`] answers one against Neo4j and
//! returns a [`Table`], and `neo4j-sink query` does the same from a shell.
//! The repository's `docs/queries.md` (<https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/queries.md>) is generated from this list ([`markdown`]) and a test
//! checks that the file matches, so the documentation cannot drift from the
//! queries that run.
//!
//! Three rules hold for every question, and tests check them:
//!
//! - **Parameters only.** The Cypher text is fixed at compile time; every value
//!   a user gives travels as a query parameter ([`Args`] are checked against
//!   the question's [`Param`]s first, so a typo fails before Neo4j is asked).
//! - **Restrictable to projects.** Every question takes a `projects` list and
//!   only reads actions (and the nodes they point at) of those projects; an
//!   empty list means every project. Tests rely on it to share one database.
//! - **Deterministic.** Every query orders its rows completely and returns
//!   times as ISO-8601 text (UTC), so the same graph gives the same table.

mod args;
mod markdown;
mod names;
mod questions;
mod run;
mod table;

pub use args::Args;
pub use markdown::{markdown, Sample};
pub use names::{project_ids, project_names, PROJECT_COLUMNS};
pub use questions::QUESTIONS;
pub use run::{check, run, run_cypher, run_question};
pub use table::Table;

/// One investigation question and the query that answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Question {
    /// Stable command-line name, kebab-case, e.g. `resource-changes`.
    pub name: &'static str,
    /// The part of the playbook page (<https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/queries.md>) the question belongs to, e.g. `Resources`.
    pub section: &'static str,
    /// The question in words, e.g. "Who deleted or changed a resource, and when?".
    pub title: &'static str,
    /// What the result means: one row per what, and how to read the columns.
    pub description: &'static str,
    /// The Cypher text; values only ever arrive as `$parameters`.
    pub cypher: &'static str,
    /// The parameters the query takes (always including `projects`).
    pub params: &'static [Param],
    /// The columns of the result, in order (the names of the `RETURN` clause).
    pub columns: &'static [&'static str],
}

/// A parameter of a [`Question`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Param {
    /// The name, as used in the Cypher text (`$name`) and on the command line (`name=value`).
    pub name: &'static str,
    /// The type the value is checked and sent as.
    pub kind: ParamKind,
    /// Whether the question needs a value.
    pub required: bool,
    /// The value used when none is given (written as on the command line);
    /// `None` sends `null` (an empty list for [`ParamKind::TextList`]).
    pub default: Option<&'static str>,
    /// What the parameter means.
    pub description: &'static str,
}

/// How a parameter value is checked and sent to Neo4j.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamKind {
    /// Any text, sent as a string.
    Text,
    /// A whole number, sent as an integer.
    Integer,
    /// An ISO-8601 date or date-time such as `2024-06-03` or
    /// `2024-06-03T08:00:00Z`, sent as a string the query turns into a DATETIME.
    DateTime,
    /// A list of texts: several values, or one value with commas, sent as a list.
    TextList,
}

impl ParamKind {
    /// A short name for help texts and docs.
    pub fn label(self) -> &'static str {
        match self {
            ParamKind::Text => "text",
            ParamKind::Integer => "integer",
            ParamKind::DateTime => "date-time",
            ParamKind::TextList => "list",
        }
    }
}

/// The question named `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Question> {
    QUESTIONS.iter().find(|q| q.name == name)
}
