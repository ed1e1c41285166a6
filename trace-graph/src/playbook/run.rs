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

/// Runs ad-hoc Cypher text in a **read** transaction (access mode read) and
/// returns every column it returns, for exploring the graph without Neo4j
/// Browser or cypher-shell.
///
/// `args` become query parameters named as given: one value is a string,
/// several values of the same name a list of strings (convert in Cypher, e.g.
/// `LIMIT toInteger($n)`). Nodes, relationships and paths come back as their
/// properties. Columns are in the order they appear in the query's last
/// `RETURN` clause (the driver does not report the order), any others after
/// them by name. Transient failures are retried like questions.
///
/// Errors: [`Error::Question`] (question `--cypher`) for empty text or a query
/// that writes (Neo4j refuses a write in a read transaction: nothing is
/// written); the writer's errors for other Neo4j problems ([`Error::Rejected`]
/// carries Neo4j's own message for a syntax error).
pub async fn run_cypher(writer: &GraphWriter, cypher: &str, args: &Args) -> Result<Table, Error> {
    let fail = |problem: String| Error::Question {
        question: "--cypher".to_owned(),
        problem,
    };
    if cypher.trim().is_empty() {
        return Err(fail(
            "the Cypher text is empty; give a read query, e.g. --cypher 'MATCH (u:User) RETURN u.name LIMIT 10'"
                .to_owned(),
        ));
    }
    let params: Vec<(String, BoltType)> = args
        .iter()
        .map(|(name, values)| {
            let value = match values {
                [one] => BoltType::from(one.as_str()),
                many => BoltType::from(many.to_vec()),
            };
            (name.to_owned(), value)
        })
        .collect();
    let span = tracing::debug_span!("playbook.cypher");
    let result = writer
        .policy
        .run(
            |_| fetch_cypher(writer, cypher, &params),
            tokio::time::sleep,
        )
        .instrument(span)
        .await;
    match result {
        Ok(table) => Ok(table),
        Err((_, f)) if f.code.contains("AccessMode") || f.code.contains("ForbiddenOnReadOnly") => {
            Err(fail(format!(
                "the query writes to the graph, and --cypher only runs read queries (it runs in a \
                 read transaction, so nothing was written); use MATCH … RETURN without CREATE, MERGE, \
                 SET, DELETE or REMOVE (Neo4j said: {})",
                f.message
            )))
        }
        Err((attempts, f)) => Err(to_error(&writer.config, attempts, f)),
    }
}

async fn fetch_cypher(
    writer: &GraphWriter,
    cypher: &str,
    params: &[(String, BoltType)],
) -> Result<Table, Failure> {
    let fail = |e: neo4rs::Error| classify(&e);
    let statement = query(cypher).params(params.iter().cloned());
    let mut stream = writer.graph.execute_read(statement).await.map_err(fail)?;
    let mut table = Table::default();
    while let Some(row) = stream.next().await.map_err(fail)? {
        if table.columns.is_empty() {
            let keys: Vec<String> = row.keys().iter().map(|k| k.value.clone()).collect();
            table.columns = column_order(cypher, keys);
        }
        let mut cells = Vec::with_capacity(table.columns.len());
        for column in &table.columns {
            let value = row.get::<Value>(column).map_err(|e| Failure {
                class: Class::Fatal,
                code: "cypher".to_owned(),
                message: format!("column `{column}` cannot be shown as data ({e})"),
            })?;
            cells.push(value);
        }
        table.rows.push(cells);
    }
    Ok(table)
}

/// Orders result keys like the items of the last `RETURN` clause of `cypher`
/// (an item's column is its `AS` alias, else its text); keys not found
/// follow by name.
fn column_order(cypher: &str, mut keys: Vec<String>) -> Vec<String> {
    let items = return_items(cypher);
    let position = |key: &str| items.iter().position(|item| item == key);
    keys.sort_by(|a, b| match (position(a), position(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    });
    keys
}

/// The column names of the last `RETURN` clause: its items split at commas
/// outside brackets and quotes, each its alias after `AS` or else its text.
fn return_items(cypher: &str) -> Vec<String> {
    // Top-level words, upper-cased, with their byte offsets: the clause
    // keywords that matter here are never inside brackets or quotes.
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut cuts = Vec::new(); // (offset, kind) of top-level commas and keywords
    let mut word_start: Option<usize> = None;
    let bytes_end = cypher.len();
    let mut words: Vec<(usize, usize)> = Vec::new();
    for (at, c) in cypher.char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        let is_word = c.is_alphanumeric() || c == '_';
        match (word_start, is_word) {
            (None, true) if depth == 0 => word_start = Some(at),
            (Some(start), false) => {
                words.push((start, at));
                word_start = None;
            }
            _ => {}
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => cuts.push(at),
            _ => {}
        }
    }
    if let Some(start) = word_start {
        words.push((start, bytes_end));
    }
    let upper = |(s, e): (usize, usize)| cypher[s..e].to_uppercase();
    let Some(ret) = words.iter().rposition(|w| upper(*w) == "RETURN") else {
        return Vec::new();
    };
    let mut start = words[ret].1;
    let mut end = bytes_end;
    let mut aliases: Vec<(usize, usize)> = Vec::new(); // (offset of AS, end of AS)
    for (i, w) in words.iter().enumerate().skip(ret + 1) {
        match upper(*w).as_str() {
            "ORDER" | "SKIP" | "LIMIT" | "UNION" => {
                end = w.0;
                break;
            }
            "DISTINCT" if i == ret + 1 => start = w.1,
            "AS" => aliases.push(*w),
            _ => {}
        }
    }
    let mut bounds: Vec<usize> = vec![start];
    bounds.extend(cuts.iter().copied().filter(|c| *c > start && *c < end));
    bounds.push(end);
    bounds
        .windows(2)
        .map(|pair| {
            let (from, to) = (pair[0], pair[1]);
            let item = cypher[from..to].trim_start_matches(',');
            let item_from = to - item.len();
            let alias = aliases.iter().rfind(|(s, _)| *s >= item_from && *s < to);
            let name = match alias {
                Some((_, as_end)) => cypher[*as_end..to].trim(),
                None => item.trim(),
            };
            name.trim_matches('`').to_owned()
        })
        .collect()
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
    fn ad_hoc_columns_follow_the_return_clause() {
        let keys = |k: &[&str]| k.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            column_order(
                "MATCH (u:User)-[:DID]->(a) WITH u, a RETURN u.name AS name, count(a) AS actions, u.id",
                keys(&["u.id", "actions", "name"])
            ),
            ["name", "actions", "u.id"]
        );
        assert_eq!(
            column_order(
                "return 1 as `größe`, 2 AS z, 3 AS a",
                keys(&["a", "z", "größe"])
            ),
            ["größe", "z", "a"]
        );
        assert_eq!(column_order("RETURN *", keys(&["b", "a"])), ["a", "b"]);
        assert_eq!(
            column_order(
                "MATCH (n) RETURN n.x AS y,\n n.y   AS x ORDER BY x, y",
                keys(&["x", "y"])
            ),
            ["y", "x"]
        );
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
