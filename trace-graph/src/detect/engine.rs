//! The graph side of a detector: run a rule, store its findings, keep the
//! detector's position, hand out unsent findings and mark them sent.
//!
//! Every statement is fixed text; values are parameters. Each call runs in
//! its own transaction and is retried on transient failures with the
//! writer's policy; every write is idempotent (MERGE on the finding id and
//! the detector name), so a retried or repeated call changes nothing more.

use super::{Candidate, Finding, Rule, RuleSettings};
use crate::error::Error;
use crate::retry::{classify, Class, Failure};
use crate::writer::{to_error, GraphWriter};
use neo4rs::{query, BoltType, Query, Row};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tracing::Instrument;

const NOW: &str = "RETURN datetime().epochMillis AS now";

const LOAD_POSITION: &str = "MATCH (d:Detector {name: $name}) RETURN d.positionMs AS position";

/// Never moves a position backwards (a slow, older run finishing late).
const SAVE_POSITION: &str = "MERGE (d:Detector {name: $name}) \
     SET d.positionMs = CASE WHEN d.positionMs IS NULL OR d.positionMs < $position \
     THEN $position ELSE d.positionMs END \
     SET d.position = datetime({epochMillis: d.positionMs}), d.updatedAt = datetime()";

/// Creates findings not seen before (label `Unsent` until a 2xx), links the
/// evidence actions of every row, and counts the new ones.
const RECORD: &str = "UNWIND $rows AS row \
     MERGE (f:Finding {id: row.id}) \
     WITH f, row, f.createdAt IS NULL AS created \
     FOREACH (_ IN CASE WHEN created THEN [1] ELSE [] END | \
       SET f += row.props, f:Unsent, f.detector = $detector, f.createdAt = datetime()) \
     SET f.lastSeenAt = datetime() \
     WITH f, row, created \
     CALL (f, row) { UNWIND row.actions AS tid \
       MATCH (a:Action {traceId: tid}) MERGE (f)-[:EVIDENCE]->(a) } \
     RETURN count(CASE WHEN created THEN 1 END) AS created";

const UNSENT: &str = "MATCH (f:Finding:Unsent) WHERE f.detector = $detector \
     RETURN f.id AS id, f.rule AS rule, f.severity AS severity, f.key AS key, \
     f.actions AS actions, f.users AS users, f.resources AS resources, f.ips AS ips, \
     f.summary AS summary, toString(f.createdAt) AS createdAt \
     ORDER BY f.createdAt, f.id LIMIT $limit";

const MARK_SENT: &str =
    "MATCH (f:Finding {id: $id}) REMOVE f:Unsent SET f.sentAt = coalesce(f.sentAt, datetime())";

/// The finding id of `key` under `rule`: `<rule>:` and the first 32 hex
/// digits of SHA-256 over rule, a zero byte and key. Deterministic, short,
/// and safe to quote in Cypher or a CloudEvent id.
pub fn finding_id(rule: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0u8]);
    h.update(key.as_bytes());
    let hex: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{rule}:{hex}")
}

fn fatal(code: &str, message: String) -> Failure {
    Failure {
        class: Class::Fatal,
        code: code.to_owned(),
        message,
    }
}

async fn read_rows(writer: &GraphWriter, q: Query) -> Result<Vec<Row>, Failure> {
    let fail = |e: neo4rs::Error| classify(&e);
    let mut stream = writer.graph.execute_read(q).await.map_err(fail)?;
    let mut rows = Vec::new();
    while let Some(row) = stream.next().await.map_err(fail)? {
        rows.push(row);
    }
    Ok(rows)
}

async fn write_rows(writer: &GraphWriter, q: Query) -> Result<Vec<Row>, Failure> {
    let fail = |e: neo4rs::Error| classify(&e);
    let mut txn = writer.graph.start_txn().await.map_err(fail)?;
    let mut stream = txn.execute(q).await.map_err(fail)?;
    let mut rows = Vec::new();
    while let Some(row) = stream.next(txn.handle()).await.map_err(fail)? {
        rows.push(row);
    }
    txn.commit().await.map_err(fail)?;
    Ok(rows)
}

/// Runs `make()` with retries (read or write), mapping the last failure to an [`Error`].
async fn retried<F, Fut>(writer: &GraphWriter, f: F) -> Result<Vec<Row>, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Row>, Failure>>,
{
    writer
        .policy
        .run(|_| f(), tokio::time::sleep)
        .await
        .map_err(|(attempts, f)| to_error(&writer.config, attempts, f))
}

/// The database's clock now, in epoch milliseconds. Positions are taken from
/// this clock, the same one that stamps `Action.storedAt`, so the detector's
/// own clock does not matter.
///
/// Errors: the writer's errors ([`Error::Transient`] when Neo4j is unreachable).
pub async fn db_now_ms(writer: &GraphWriter) -> Result<i64, Error> {
    let rows = retried(writer, || read_rows(writer, query(NOW))).await?;
    rows.first()
        .and_then(|r| r.get::<i64>("now").ok())
        .ok_or_else(|| Error::Rejected {
            code: "detect".to_owned(),
            message: "RETURN datetime().epochMillis gave no integer".to_owned(),
        })
}

/// The stored position (epoch ms) of the detector `name`, or `None` when it
/// has never saved one.
///
/// Errors: the writer's errors.
pub async fn load_position(writer: &GraphWriter, name: &str) -> Result<Option<i64>, Error> {
    let rows = retried(writer, || {
        read_rows(writer, query(LOAD_POSITION).param("name", name))
    })
    .await?;
    Ok(rows
        .first()
        .and_then(|r| r.get::<Option<i64>>("position").ok())
        .flatten())
}

/// Saves the position (epoch ms) of the detector `name` in a `Detector`
/// node; a position older than the stored one is ignored.
///
/// Errors: the writer's errors.
pub async fn save_position(
    writer: &GraphWriter,
    name: &str,
    position_ms: i64,
) -> Result<(), Error> {
    retried(writer, || {
        write_rows(
            writer,
            query(SAVE_POSITION)
                .param("name", name)
                .param("position", position_ms),
        )
    })
    .await
    .map(|_| ())
}

fn strings(row: &Row, column: &str, rule: &str) -> Result<Vec<String>, Failure> {
    let values: Vec<Option<String>> = row.get(column).map_err(|e| {
        fatal(
            "detect",
            format!("rule `{rule}`: column `{column}` is missing or not a list of texts ({e}); this is a bug in the rule"),
        )
    })?;
    let mut out: Vec<String> = values.into_iter().flatten().collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// Runs `rule` over the actions stored at or after `since_ms` (epoch ms,
/// database clock) in `projects` (empty = every project), with the values of
/// `settings`, and returns its candidates in key order.
///
/// Errors: the writer's errors ([`Error::Rejected`] carries Neo4j's message
/// if a rule's text were wrong).
pub async fn evaluate(
    writer: &GraphWriter,
    rule: &Rule,
    settings: &RuleSettings,
    since_ms: i64,
    projects: &[String],
) -> Result<Vec<Candidate>, Error> {
    let params = settings.bolt_params(rule);
    let make = || {
        let q = query(rule.cypher)
            .param("since_ms", since_ms)
            .param("projects", projects.to_vec())
            .params(params.iter().cloned());
        async move {
            let rows = read_rows(writer, q).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let key: String = row.get("key").map_err(|e| {
                    fatal(
                        "detect",
                        format!("rule `{}`: no text column `key` ({e})", rule.name),
                    )
                })?;
                let summary: String = row.get("summary").unwrap_or_default();
                out.push(Candidate {
                    key,
                    actions: strings(&row, "actions", rule.name)?,
                    users: strings(&row, "users", rule.name)?,
                    resources: strings(&row, "resources", rule.name)?,
                    ips: strings(&row, "ips", rule.name)?,
                    summary,
                });
            }
            Ok(out)
        }
    };
    let span = tracing::debug_span!("detect.evaluate", rule = rule.name);
    writer
        .policy
        .run(|_| make(), tokio::time::sleep)
        .instrument(span)
        .await
        .map(|mut c: Vec<Candidate>| {
            c.sort_by(|a, b| a.key.cmp(&b.key));
            c.dedup_by(|a, b| a.key == b.key);
            c
        })
        .map_err(|(attempts, f)| to_error(&writer.config, attempts, f))
}

/// Stores the candidates of `rule` as `Finding` nodes owned by `detector`:
/// a finding not seen before is created (labelled `Unsent`); one seen before
/// keeps its values and gains any new `EVIDENCE` links. Returns how many were
/// new.
///
/// Errors: the writer's errors.
pub async fn record(
    writer: &GraphWriter,
    detector: &str,
    rule: &Rule,
    candidates: &[Candidate],
) -> Result<usize, Error> {
    if candidates.is_empty() {
        return Ok(0);
    }
    let rows: Vec<BoltType> = candidates
        .iter()
        .map(|c| {
            let mut props: HashMap<&str, BoltType> = HashMap::new();
            props.insert("rule", rule.name.into());
            props.insert("severity", rule.severity.as_str().into());
            props.insert("key", c.key.as_str().into());
            props.insert("summary", c.summary.as_str().into());
            props.insert("actions", c.actions.clone().into());
            props.insert("users", c.users.clone().into());
            props.insert("resources", c.resources.clone().into());
            props.insert("ips", c.ips.clone().into());
            let mut row: HashMap<&str, BoltType> = HashMap::new();
            row.insert("id", finding_id(rule.name, &c.key).into());
            row.insert("actions", c.actions.clone().into());
            row.insert("props", props.into());
            row.into()
        })
        .collect();
    let rows = retried(writer, || {
        write_rows(
            writer,
            query(RECORD)
                .param("rows", rows.clone())
                .param("detector", detector),
        )
    })
    .await?;
    Ok(rows
        .first()
        .and_then(|r| r.get::<i64>("created").ok())
        .unwrap_or(0)
        .max(0) as usize)
}

/// Findings of `detector` not yet marked sent, oldest first, at most `limit`.
///
/// Errors: the writer's errors.
pub async fn unsent(
    writer: &GraphWriter,
    detector: &str,
    limit: i64,
) -> Result<Vec<Finding>, Error> {
    let rows = retried(writer, || {
        read_rows(
            writer,
            query(UNSENT)
                .param("detector", detector)
                .param("limit", limit),
        )
    })
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let text = |c: &str| {
            row.get::<Option<String>>(c)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        let list = |c: &str| {
            row.get::<Option<Vec<String>>>(c)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        out.push(Finding {
            id: text("id"),
            rule: text("rule"),
            severity: text("severity"),
            key: text("key"),
            actions: list("actions"),
            users: list("users"),
            resources: list("resources"),
            ips: list("ips"),
            summary: text("summary"),
            created_at: text("createdAt"),
        });
    }
    Ok(out)
}

/// Marks the finding `id` as sent (after the receiver answered 2xx); it is
/// never handed out by [`unsent`] again.
///
/// Errors: the writer's errors.
pub async fn mark_sent(writer: &GraphWriter, id: &str) -> Result<(), Error> {
    retried(writer, || {
        write_rows(writer, query(MARK_SENT).param("id", id))
    })
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_ids_are_deterministic_and_distinct() {
        let a = finding_id("mass-deletion", "u/name:alice|123");
        assert_eq!(a, finding_id("mass-deletion", "u/name:alice|123"));
        assert_eq!(a.len(), "mass-deletion:".len() + 32);
        assert_ne!(a, finding_id("mass-deletion", "u/name:alice|124"));
        // Rule and key are separated, so a shifted boundary is another id.
        assert_ne!(finding_id("ab", "c"), finding_id("a", "bc"));
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'));
    }
}
