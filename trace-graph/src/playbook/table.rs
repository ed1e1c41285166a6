//! The answer to a question: named columns and rows of JSON values, with the
//! three ways people read it (an aligned text table, Markdown, JSON).
//!
//! Cells are `serde_json::Value`s so that a table is independent of the
//! driver, compares exactly in tests and serialises unchanged for scripts.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Rows of a query result, every row with one value per column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Column names, in the order of the query's `RETURN` clause.
    pub columns: Vec<String>,
    /// The rows; each has exactly `columns.len()` values.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// An aligned plain-text table with a header line, for a terminal.
    /// Lists print as comma-separated items, `null` as nothing.
    pub fn to_text(&self) -> String {
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(cell_text).collect())
            .collect();
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.chars().count()).collect();
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |values: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, (v, w)) in values.zip(&widths).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                out.push_str(v);
                if i + 1 < widths.len() {
                    out.extend(std::iter::repeat_n(' ', w - v.chars().count()));
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            out
        };
        let mut out = line(&mut self.columns.iter().map(String::as_str));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&mut rule.iter().map(String::as_str)));
        for row in &cells {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }

    /// A GitHub-flavoured Markdown table (`|` and line breaks in cells escaped).
    pub fn to_markdown(&self) -> String {
        let escape = |s: &str| s.replace('|', "\\|").replace(['\n', '\r'], " ");
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| escape(c)).collect();
        out.push_str(&format!("| {} |\n", header.join(" | ")));
        out.push_str(&format!("|{}\n", "---|".repeat(self.columns.len())));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|v| escape(&cell_text(v))).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    /// Every row as a JSON object keyed by column name.
    pub fn records(&self) -> Vec<serde_json::Map<String, Value>> {
        self.rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect()
            })
            .collect()
    }
}

/// How one cell reads in text: strings bare, lists comma-separated, null empty.
pub(crate) fn cell_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> Table {
        Table {
            columns: vec!["user".into(), "actions".into(), "ips".into()],
            rows: vec![
                vec![json!("alice"), json!(12), json!(["198.51.100.10", "a|b"])],
                vec![json!("bob"), json!(3), Value::Null],
            ],
        }
    }

    #[test]
    fn text_is_aligned_with_a_rule_under_the_header() {
        let text = table().to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "user   actions  ips");
        assert_eq!(lines[1], "-----  -------  ------------------");
        assert_eq!(lines[2], "alice  12       198.51.100.10, a|b");
        assert_eq!(lines[3], "bob    3");
    }

    #[test]
    fn markdown_escapes_pipes() {
        let md = table().to_markdown();
        assert!(
            md.starts_with("| user | actions | ips |\n|---|---|---|\n"),
            "{md}"
        );
        assert!(md.contains("| alice | 12 | 198.51.100.10, a\\|b |"), "{md}");
        assert!(md.contains("| bob | 3 |  |"), "{md}");
    }

    #[test]
    fn records_are_keyed_by_column() {
        let r = table().records();
        assert_eq!(r[1]["user"], json!("bob"));
        assert_eq!(r[1]["ips"], Value::Null);
    }

    #[test]
    fn an_empty_table_still_has_its_header() {
        let t = Table {
            columns: vec!["a".into()],
            rows: vec![],
        };
        assert_eq!(t.to_text(), "a\n-\n");
    }
}
