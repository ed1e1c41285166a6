//! Project names for display: answers carry project ids (32 hex digits in
//! OTC), which say nothing to a person; where a `Tenant` node carries a
//! `name`, tables show that instead.
//!
//! Only the display changes: questions still take and compare ids, and the
//! JSON form keeps the ids (with the names beside them), so scripts see the
//! same data whether or not names are known.

use super::Table;
use crate::error::Error;
use crate::retry::classify;
use crate::writer::{to_error, GraphWriter};
use neo4rs::query;
use serde_json::Value;
use std::collections::BTreeMap;

/// Columns that hold project ids (one id, or a list of ids).
pub const PROJECT_COLUMNS: [&str; 2] = ["project", "projects"];

/// The project ids in the project columns of `table`, each once, sorted.
pub fn project_ids(table: &Table) -> Vec<String> {
    let mut ids = std::collections::BTreeSet::new();
    for (i, column) in table.columns.iter().enumerate() {
        if !PROJECT_COLUMNS.contains(&column.as_str()) {
            continue;
        }
        for row in &table.rows {
            match row.get(i) {
                Some(Value::String(id)) => {
                    ids.insert(id.clone());
                }
                Some(Value::Array(items)) => {
                    ids.extend(items.iter().filter_map(|v| v.as_str().map(str::to_owned)));
                }
                _ => {}
            }
        }
    }
    ids.into_iter().collect()
}

/// The names of those of `ids` whose `Tenant` node has a non-empty `name`
/// (read in a read transaction; no retries: names are a nicety).
///
/// Errors: the writer's errors when Neo4j fails.
pub async fn project_names(
    writer: &GraphWriter,
    ids: &[String],
) -> Result<BTreeMap<String, String>, Error> {
    let mut names = BTreeMap::new();
    if ids.is_empty() {
        return Ok(names);
    }
    let fail = |e: neo4rs::Error| to_error(&writer.config, 1, classify(&e));
    let statement = query(
        "MATCH (t:Tenant) WHERE t.projectId IN $ids AND t.name IS NOT NULL \
         RETURN t.projectId AS id, t.name AS name",
    )
    .param("ids", ids.to_vec());
    let mut rows = writer.graph.execute_read(statement).await.map_err(fail)?;
    while let Some(row) = rows.next().await.map_err(fail)? {
        // A name that is not text or is blank is no better than the id.
        if let (Ok(id), Ok(name)) = (row.get::<String>("id"), row.get::<String>("name")) {
            if !name.trim().is_empty() {
                names.insert(id, name);
            }
        }
    }
    Ok(names)
}

impl Table {
    /// The same table with every project id in a project column replaced by
    /// its name from `names`; ids without a name stay as they are.
    pub fn with_project_names(&self, names: &BTreeMap<String, String>) -> Table {
        let name_of = |v: &Value| match v {
            Value::String(id) => names
                .get(id)
                .map_or_else(|| v.clone(), |n| Value::String(n.clone())),
            other => other.clone(),
        };
        let mut table = self.clone();
        for (i, column) in self.columns.iter().enumerate() {
            if !PROJECT_COLUMNS.contains(&column.as_str()) {
                continue;
            }
            for row in &mut table.rows {
                if let Some(cell) = row.get_mut(i) {
                    *cell = match &*cell {
                        Value::Array(items) => Value::Array(items.iter().map(name_of).collect()),
                        one => name_of(one),
                    };
                }
            }
        }
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_replace_known_ids_in_project_columns_only() {
        let id = "0123456789abcdef0123456789abcdef";
        let other = "fedcba9876543210fedcba9876543210";
        let table = Table {
            columns: vec!["project".into(), "projects".into(), "resource".into()],
            rows: vec![
                vec![json!(id), json!([id, other]), json!(id)],
                vec![json!(other), Value::Null, json!(3)],
            ],
        };
        assert_eq!(project_ids(&table), [id, other]);
        let names = BTreeMap::from([(id.to_owned(), "eu-de_東京".to_owned())]);
        let named = table.with_project_names(&names);
        assert_eq!(
            named.rows[0],
            [json!("eu-de_東京"), json!(["eu-de_東京", other]), json!(id)]
        );
        assert_eq!(named.rows[1], table.rows[1]);
        assert_eq!(table.with_project_names(&BTreeMap::new()), table);
    }
}
