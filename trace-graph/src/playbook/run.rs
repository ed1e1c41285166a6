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
    run_question(writer, question, args).await
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
