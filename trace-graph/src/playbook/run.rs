//! Answering a question: check the arguments, run the fixed Cypher text with
//! them as parameters in a read transaction, collect the declared columns.
//!
//! Transient failures (a dropped connection, a leader switch) are retried
//! with the writer's policy, like writes; anything else comes back at once.

use super::args::{bind, Args};
use super::{find, Question, Table, QUESTIONS};
use crate::error::Error;
use crate::retry::{classify, Class, Failure};
use crate::writer::{to_error, GraphWriter};
use neo4rs::{query, BoltType};
use serde_json::Value;
use tracing::Instrument;

/// Answers the question called `name` with `args`.
///
/// Errors: [`Error::Question`] for an unknown question or bad arguments (the
/// message says which and how to fix it); the writer's errors for Neo4j
/// problems ([`Error::Transient`] when it is unreachable after the retries,
/// [`Error::Rejected`] when it refuses the query).
pub async fn run(writer: &GraphWriter, name: &str, args: &Args) -> Result<Table, Error> {
    let question = check(name, args)?;
    run_question(writer, question, args).await
}

/// Checks, without asking Neo4j, that `name` is a question and that `args`
/// suit it; returns the question. [`run`] does the same check first.
///
/// Errors: [`Error::Question`] naming the unknown question (and listing the
/// known ones) or the parameter that is wrong.
pub fn check(name: &str, args: &Args) -> Result<&'static Question, Error> {
    let question = find(name).ok_or_else(|| Error::Question {
        question: name.to_owned(),
        problem: format!(
            "there is no such question; known questions: {}",
            QUESTIONS
                .iter()
                .map(|q| q.name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })?;
    bind(question, args)?;
    Ok(question)
}

/// Answers `question` with `args` (for callers that hold the [`Question`]).
pub async fn run_question(
    writer: &GraphWriter,
    question: &Question,
    args: &Args,
) -> Result<Table, Error> {
    let params = bind(question, args)?;
    let span = tracing::debug_span!("playbook.run", question = question.name);
    writer
        .policy
        .run(|_| fetch(writer, question, &params), tokio::time::sleep)
        .instrument(span)
        .await
        .map_err(|(attempts, f)| to_error(&writer.config, attempts, f))
}

async fn fetch(
    writer: &GraphWriter,
    question: &Question,
    params: &[(&'static str, BoltType)],
) -> Result<Table, Failure> {
    let fail = |e: neo4rs::Error| classify(&e);
    let statement = query(question.cypher).params(params.iter().cloned());
    let mut stream = writer.graph.execute_read(statement).await.map_err(fail)?;
    let mut table = Table {
        columns: question.columns.iter().map(|c| (*c).to_owned()).collect(),
        rows: Vec::new(),
    };
    while let Some(row) = stream.next().await.map_err(fail)? {
        let mut cells = Vec::with_capacity(question.columns.len());
        for column in question.columns {
            let value = row.get::<Value>(column).map_err(|e| Failure {
                class: Class::Fatal,
                code: "playbook".to_owned(),
                message: format!(
                    "question `{}`: column `{column}` is missing from the result or is not \
                     plain data ({e}); this is a bug in the question",
                    question.name
                ),
            })?;
            cells.push(value);
        }
        table.rows.push(cells);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_the_unknown_question_and_lists_the_known_ones() {
        match check("who-did-it", &Args::new()) {
            Err(Error::Question { question, problem }) => {
                assert_eq!(question, "who-did-it");
                assert!(problem.contains("resource-changes"), "{problem}");
            }
            other => panic!("expected a question error, got {other:?}"),
        }
    }

    #[test]
    fn check_binds_the_arguments() {
        let args = Args::new().with("user", "alice").with("from", "2024-06-03");
        assert_eq!(
            check("user-activity", &args).map(|q| q.name).ok(),
            Some("user-activity")
        );
        let err = check("user-activity", &Args::new()).expect_err("user missing");
        assert!(err.to_string().contains("`user` is required"), "{err}");
    }
}
