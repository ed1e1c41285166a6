//! Read-only Cypher checks on the graph once everything has stopped: the
//! `Action` nodes, node keys held by more than one node (per label), nodes
//! without their key, and relationships repeated between the same two nodes.

use anyhow::Context;
use neo4rs::{query, Graph};

use crate::neo4j_local::Conn;
use crate::truth::FoundAction;

/// `(label, key property)` of every node kind (docs/graph-model.md).
pub const NODE_KEYS: [(&str, &str); 9] = [
    ("Action", "traceId"),
    ("User", "key"),
    ("Resource", "key"),
    ("Tenant", "projectId"),
    ("Region", "name"),
    ("Domain", "id"),
    ("Service", "name"),
    ("Status", "name"),
    ("IpAddress", "address"),
];

/// The key check of one label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyCheck {
    /// Label.
    pub label: &'static str,
    /// Key property.
    pub key: &'static str,
    /// Nodes with this label.
    pub nodes: i64,
    /// Key values held by more than one node.
    pub duplicate_keys: i64,
    /// Up to five of them, for the report.
    pub examples: Vec<String>,
    /// Nodes without the key property.
    pub without_key: i64,
}

/// Relationships of one type repeated between the same two nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedRel {
    /// Relationship type.
    pub rel_type: String,
    /// Node pairs holding more than one such relationship.
    pub pairs: i64,
}

/// A connection for the checks.
pub struct Checks {
    graph: Graph,
}

impl Checks {
    /// Connects to the suite's Neo4j.
    pub fn connect(conn: &Conn) -> anyhow::Result<Checks> {
        let graph = Graph::new(&conn.uri, &conn.user, &conn.password)
            .with_context(|| format!("connecting to Neo4j at {}", conn.uri))?;
        Ok(Checks { graph })
    }

    /// Every `Action` node's trace id and project id.
    pub async fn actions(&self) -> anyhow::Result<Vec<FoundAction>> {
        let mut rows = self
            .graph
            .execute(query(
                "MATCH (a:Action) RETURN a.traceId AS id, a.projectId AS project",
            ))
            .await
            .context("reading the Action nodes")?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.context("reading the Action nodes")? {
            out.push(FoundAction {
                trace_id: row.get::<String>("id").unwrap_or_default(),
                project_id: row.get::<String>("project").ok(),
            });
        }
        Ok(out)
    }

    /// The key check of every label in [`NODE_KEYS`].
    pub async fn keys(&self) -> anyhow::Result<Vec<KeyCheck>> {
        let mut out = Vec::new();
        for (label, key) in NODE_KEYS {
            // Labels and property names come from the constant above, never
            // from data, so formatting them into the statement is safe.
            let counts =
                format!("MATCH (n:{label}) RETURN count(n) AS nodes, count(n.{key}) AS keyed");
            let dups = format!(
                "MATCH (n:{label}) WHERE n.{key} IS NOT NULL \
                 WITH n.{key} AS k, count(*) AS c WHERE c > 1 \
                 RETURN count(k) AS dup, collect(toString(k))[0..5] AS examples"
            );
            let (nodes, keyed) = self.one_pair(&counts, "nodes", "keyed").await?;
            let mut rows = self
                .graph
                .execute(query(&dups))
                .await
                .with_context(|| format!("checking {label}.{key} for duplicates"))?;
            let (duplicate_keys, examples) = match rows.next().await? {
                Some(r) => (
                    r.get::<i64>("dup").unwrap_or(0),
                    r.get::<Vec<String>>("examples").unwrap_or_default(),
                ),
                None => (0, Vec::new()),
            };
            out.push(KeyCheck {
                label,
                key,
                nodes,
                duplicate_keys,
                examples,
                without_key: nodes - keyed,
            });
        }
        Ok(out)
    }

    /// Relationship types with more than one relationship between the same
    /// two nodes (the writer MERGEs them, so there should be none).
    pub async fn repeated_relationships(&self) -> anyhow::Result<Vec<RepeatedRel>> {
        let mut rows = self
            .graph
            .execute(query(
                "MATCH (a)-[r]->(b) WITH a, b, type(r) AS t, count(r) AS c WHERE c > 1 \
                 RETURN t, count(*) AS pairs ORDER BY t",
            ))
            .await
            .context("checking for repeated relationships")?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            out.push(RepeatedRel {
                rel_type: r.get::<String>("t").unwrap_or_default(),
                pairs: r.get::<i64>("pairs").unwrap_or(0),
            });
        }
        Ok(out)
    }

    async fn one_pair(&self, cypher: &str, a: &str, b: &str) -> anyhow::Result<(i64, i64)> {
        let mut rows = self
            .graph
            .execute(query(cypher))
            .await
            .with_context(|| format!("running {cypher}"))?;
        Ok(match rows.next().await? {
            Some(r) => (r.get::<i64>(a).unwrap_or(0), r.get::<i64>(b).unwrap_or(0)),
            None => (0, 0),
        })
    }
}
