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
    /// An aligned plain-text table with a header line, for a terminal, with
    /// no width limit. Lists print as comma-separated items, `null` as nothing.
    pub fn to_text(&self) -> String {
        self.to_text_width(0)
    }

    /// Like [`Table::to_text`], but no line is wider than `max_width`
    /// terminal columns (0 means no limit): the widest columns are narrowed
    /// first and a cell that does not fit is cut, ending in `…`. Widths count
    /// terminal cells, so CJK and other wide characters take two, combining
    /// marks none, and a character is never split; line breaks, tabs and other
    /// control characters in a value print as spaces so rows stay one line.
    /// When even one column per value does not fit, lines are as narrow as
    /// they can be (one cell per column plus the separators).
    pub fn to_text_width(&self, max_width: usize) -> String {
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        };
        let header: Vec<String> = self.columns.iter().map(|c| clean(c)).collect();
        let cells: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(|v| clean(&cell_text(v))).collect())
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|c| text_width(c)).collect();
        for row in &cells {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(text_width(cell));
            }
        }
        if max_width > 0 {
            let gaps = 2 * widths.len().saturating_sub(1);
            let available = max_width.saturating_sub(gaps);
            if widths.iter().sum::<usize>() > available {
                let cap = column_cap(&widths, available);
                for w in &mut widths {
                    *w = (*w).min(cap);
                }
            }
        }
        let line = |values: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, (v, w)) in values.zip(&widths).enumerate() {
                if i > 0 {
                    out.push_str("  ");
                }
                let (cut, used) = fit(v, *w);
                out.push_str(&cut);
                if i + 1 < widths.len() {
                    out.extend(std::iter::repeat_n(' ', w - used));
                }
            }
            out.truncate(out.trim_end().len());
            out.push('\n');
            out
        };
        let mut out = line(&mut header.iter().map(String::as_str));
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

/// The largest column width `c` (at least 1) with `sum(min(w, c)) <= available`:
/// narrow columns keep their width, wide ones share what is left.
fn column_cap(widths: &[usize], available: usize) -> usize {
    let total = |cap: usize| widths.iter().map(|w| (*w).min(cap)).sum::<usize>();
    let (mut low, mut high) = (1, widths.iter().copied().max().unwrap_or(1).max(1));
    while low < high {
        let mid = low + (high - low).div_ceil(2);
        if total(mid) <= available {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    low
}

/// `text` cut to at most `width` terminal cells, ending in `…` when cut;
/// returns the text and the cells it takes.
fn fit(text: &str, width: usize) -> (String, usize) {
    let full = text_width(text);
    if full <= width {
        return (text.to_owned(), full);
    }
    if width == 0 {
        return (String::new(), 0);
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = char_width(c);
        if used + w > width - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    (out, used + 1)
}

/// Terminal cells `text` takes.
pub(crate) fn text_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// Terminal cells of one character: 0 for combining marks and zero-width
/// characters, 2 for East Asian wide and fullwidth characters and emoji
/// (Unicode's East Asian Width W/F ranges, abridged to the assigned blocks),
/// 1 otherwise.
fn char_width(c: char) -> usize {
    let u = u32::from(c);
    let zero = matches!(u,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A
        | 0x064B..=0x065F | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x200B..=0x200F | 0x2028..=0x202E
        | 0x2060..=0x2064 | 0x20D0..=0x20FF | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F
        | 0xFEFF | 0xE0100..=0xE01EF);
    if zero {
        return 0;
    }
    let wide = matches!(u,
        0x1100..=0x115F | 0x231A..=0x231B | 0x2329..=0x232A | 0x23E9..=0x23EC
        | 0x23F0 | 0x23F3 | 0x25FD..=0x25FE | 0x2614..=0x2615 | 0x2648..=0x2653
        | 0x267F | 0x2693 | 0x26A1 | 0x26AA..=0x26AB | 0x26BD..=0x26BE
        | 0x26C4..=0x26C5 | 0x26CE | 0x26D4 | 0x26EA | 0x26F2..=0x26F3 | 0x26F5
        | 0x26FA | 0x26FD | 0x2705 | 0x270A..=0x270B | 0x2728 | 0x274C | 0x274E
        | 0x2753..=0x2755 | 0x2757 | 0x2795..=0x2797 | 0x27B0 | 0x27BF
        | 0x2B1B..=0x2B1C | 0x2B50 | 0x2B55 | 0x2E80..=0x303E | 0x3041..=0x33FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xA000..=0xA4CF | 0xA960..=0xA97F
        | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE10..=0xFE19 | 0xFE30..=0xFE6F
        | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x16FE0..=0x16FE4 | 0x17000..=0x18CFF
        | 0x1B000..=0x1B2FF | 0x1F004 | 0x1F0CF | 0x1F18E | 0x1F191..=0x1F19A
        | 0x1F200..=0x1F251 | 0x1F300..=0x1F64F | 0x1F680..=0x1F6FF
        | 0x1F7E0..=0x1F7EB | 0x1F90C..=0x1F9FF | 0x1FA70..=0x1FAFF
        | 0x20000..=0x2FFFD | 0x30000..=0x3FFFD);
    if wide {
        2
    } else {
        1
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
    fn wide() -> Table {
        Table {
            columns: vec!["user".into(), "resource".into(), "n".into()],
            rows: vec![
                vec![
                    json!("张伟"),
                    json!("サーバー-東京-0001-本番環境"),
                    json!(1),
                ],
                vec![json!("zoë\u{301}"), json!("a\nb\tc"), json!(22)],
                vec![json!("x".repeat(500)), json!("🙂🙂🙂"), json!(3)],
            ],
        }
    }

    #[test]
    fn wide_and_combining_characters_keep_columns_aligned() {
        let text = wide().to_text();
        let lines: Vec<&str> = text.lines().collect();
        // The column `n` starts at the same terminal cell on every row.
        let col_of_last =
            |l: &str| text_width(l) - text_width(l.rsplit("  ").next().expect("a cell"));
        let first = col_of_last(lines[2]);
        assert_eq!(col_of_last(lines[3]), first, "{text}");
        assert_eq!(col_of_last(lines[4]), first, "{text}");
        assert!(
            lines[3].contains("a b c"),
            "controls print as spaces: {text}"
        );
    }

    #[test]
    fn a_width_limit_cuts_cells_with_a_marker_and_never_splits_a_character() {
        for limit in [100, 40, 20, 11, 5, 1] {
            let text = wide().to_text_width(limit);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 5, "{text}");
            let floor = 3 + 2 * 2; // one cell per column plus the gaps
            for l in &lines {
                assert!(
                    text_width(l) <= limit.max(floor),
                    "{limit}: {l:?} in\n{text}"
                );
            }
            assert!(text.contains('…'), "{limit}: {text}");
        }
        let text = wide().to_text_width(40);
        // Columns stay aligned after cutting, too.
        let lines: Vec<&str> = text.lines().collect();
        let col_of_last =
            |l: &str| text_width(l) - text_width(l.rsplit("  ").next().expect("a cell"));
        assert_eq!(col_of_last(lines[2]), col_of_last(lines[4]), "{text}");
        assert!(lines[4].starts_with("xxxxxxxx"), "{text}");
        // A wide character that does not fit whole leaves a blank, not half a glyph.
        assert_eq!(fit("東京都", 4), ("東…".to_owned(), 3));
        assert_eq!(fit("東京都", 6), ("東京都".to_owned(), 6));
        assert_eq!(fit("abc", 0), (String::new(), 0));
    }

    #[test]
    fn narrow_columns_keep_their_width_when_wide_ones_are_cut() {
        let text = wide().to_text_width(30);
        let header = text.lines().next().expect("header");
        assert!(header.ends_with("  n"), "{text}");
        assert!(text.lines().nth(2).expect("row").ends_with("  1"), "{text}");
    }

    #[test]
    fn an_unlimited_table_is_unchanged_by_a_large_limit() {
        assert_eq!(table().to_text_width(1000), table().to_text());
        assert_eq!(table().to_text_width(0), table().to_text());
    }
}
