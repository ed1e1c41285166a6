//! Errors: one enum for the writer ([`Error`]) and one for a single row that
//! cannot be stored ([`RowError`]).
//!
//! The split matters to callers. A [`RowError`] is about the data of one
//! trace; the rest of the batch is written and the caller reports that trace
//! (the sink answers 400 for it). An [`Error`] is about the database or the
//! configuration; [`Error::is_transient`] tells whether trying again later can
//! succeed (the sink answers 503) or not (bad config, bad credentials: 400/500).

/// A failure of the writer as a whole.
///
/// Messages never contain the Neo4j password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting of [`crate::GraphConfig`] is invalid. Permanent.
    #[error("invalid graph setting `{setting}`: {problem}")]
    Config {
        /// The setting's field name in `GraphConfig`.
        setting: &'static str,
        /// What is wrong, what is allowed and what was given.
        problem: String,
    },
    /// Neo4j refused the credentials or the user lacks a permission. Permanent.
    #[error(
        "Neo4j refused access for user {user:?}: {message} \
         (check NEO4J_USER/NEO4J_PASSWORD and the user's roles)"
    )]
    Auth {
        /// The user name that was used.
        user: String,
        /// The server's message.
        message: String,
    },
    /// Neo4j is unreachable, busy, or kept failing with transient errors
    /// (deadlocks, leader changes, dropped connections) after every retry.
    /// Trying again later can succeed.
    #[error("Neo4j is unavailable after {attempts} attempt(s): {message}")]
    Transient {
        /// How many times the transaction was tried.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// Neo4j refused a statement for a reason retrying will not fix
    /// (schema conflict, a constraint held by other data, a server bug).
    /// Permanent.
    #[error("Neo4j refused the statement ({code}): {message}")]
    Rejected {
        /// The Neo4j status code, e.g. `Neo.ClientError.Schema.ConstraintValidationFailed`,
        /// or `driver` for a failure inside the Bolt driver.
        code: String,
        /// The server's (or driver's) message.
        message: String,
    },
    /// A playbook question was asked wrongly: an unknown question, an unknown
    /// or missing parameter, or a value of the wrong type. Permanent; the
    /// message names the parameter and what it expects.
    #[error("playbook question `{question}`: {problem}")]
    Question {
        /// The question's name as given.
        question: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A detection rule was named or tuned wrongly: an unknown rule, an
    /// unknown parameter, or a value out of range. Permanent; the message
    /// names the rule, the parameter and what it accepts.
    #[error("detection rule `{rule}`: {problem}")]
    Detection {
        /// The rule's name as given.
        rule: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

impl Error {
    /// True when the same request can succeed later without any change
    /// (the caller should answer "retry later", e.g. HTTP 503).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Transient { .. })
    }
}

/// Why one trace cannot become a graph row. The rest of its batch is still written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// The trace has no `trace_id` (or a blank one), so it has no identity in the graph.
    #[error("trace has no trace_id: it cannot be stored idempotently; fix the producer to send `trace_id`")]
    MissingTraceId,
    /// Neither `time` nor `record_time` is present.
    #[error(
        "trace {trace_id:?} has neither `time` nor `record_time`: an audit action needs a time"
    )]
    MissingTime {
        /// The trace id.
        trace_id: String,
    },
    /// The context lacks a required value.
    #[error(
        "trace {trace_id:?}: the context has no {field}; \
         set it (the sink reads it from the CloudEvent extension `{extension}`)"
    )]
    MissingContext {
        /// The trace id.
        trace_id: String,
        /// `project_id` or `region`.
        field: &'static str,
        /// The CloudEvent extension that carries it.
        extension: &'static str,
    },
    /// The trace alone exceeds the server's transaction memory or message size.
    #[error(
        "trace {trace_id:?} is too large for one Neo4j transaction ({message}); \
         raise db.memory.transaction.max or shorten request/response"
    )]
    TooLarge {
        /// The trace id.
        trace_id: String,
        /// The server's message.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_is_only_transient() {
        let t = Error::Transient {
            attempts: 3,
            message: "deadlock".into(),
        };
        assert!(t.is_transient());
        let a = Error::Auth {
            user: "neo4j".into(),
            message: "unauthorized".into(),
        };
        assert!(!a.is_transient());
        assert!(a.to_string().contains("NEO4J_PASSWORD"));
    }

    #[test]
    fn row_errors_name_the_fix() {
        let e = RowError::MissingContext {
            trace_id: "t".into(),
            field: "project_id",
            extension: "tenant",
        };
        assert!(e.to_string().contains("`tenant`"), "{e}");
    }
}
