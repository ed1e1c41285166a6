//! The rules part of `docs/detections.md`, generated from [`RULES`] so the
//! page cannot drift from the queries that run (a test compares them).

use super::RULES;
use std::fmt::Write;

/// Markdown for every rule: title, severity, rationale, watched operations,
/// settings (environment variable, default, meaning) and the Cypher text.
pub fn markdown() -> String {
    let mut out = String::new();
    for r in RULES {
        let env = r.name.to_ascii_uppercase().replace('-', "_");
        let _ = writeln!(out, "### `{}`\n", r.name);
        let _ = writeln!(
            out,
            "**{}.** Severity **{}**; CloudEvent type `com.otc.cts.finding.{}`.\n",
            r.title,
            r.severity.as_str(),
            r.name
        );
        let _ = writeln!(out, "{}\n", r.rationale);
        let stop = if r.watches.ends_with('.') { "" } else { "." };
        let _ = writeln!(out, "Watches: {}{stop}\n", r.watches);
        if r.params.is_empty() {
            let _ = writeln!(
                out,
                "Settings: none besides `DETECT_RULES` / `DETECT_SKIP_RULES`.\n"
            );
        } else {
            let _ = writeln!(
                out,
                "| variable | flag | default | meaning |\n|---|---|---|---|"
            );
            for p in r.params {
                let var = format!("DETECT_{env}_{}", p.name.to_ascii_uppercase());
                let flag = var.to_ascii_lowercase().replace('_', "-");
                let range = match (p.min, p.max) {
                    (Some(a), Some(b)) => format!(" ({a}–{b})"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "| `{var}` | `--{flag}` | `{}` | {}{range} |",
                    p.default, p.description
                );
            }
            out.push('\n');
        }
        let _ = writeln!(out, "```cypher\n{}\n```\n", pretty(r.cypher));
    }
    out
}

/// Breaks the one-line Cypher text before its main clauses, for reading.
fn pretty(cypher: &str) -> String {
    let mut out = String::with_capacity(cypher.len() + 64);
    let words: Vec<&str> = cypher.split(' ').collect();
    for (i, w) in words.iter().enumerate() {
        let clause = matches!(
            *w,
            "MATCH" | "WITH" | "WHERE" | "RETURN" | "CALL" | "UNWIND"
        ) && i > 0
            && !matches!(words[i - 1], "EXISTS" | "{" | "DISTINCT" | "OPTIONAL");
        if i > 0 {
            out.push(if clause { '\n' } else { ' ' });
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_and_setting_is_in_the_markdown() {
        let md = markdown();
        for r in RULES {
            assert!(md.contains(&format!("### `{}`", r.name)));
            for p in r.params {
                assert!(md.contains(&p.name.to_ascii_uppercase()), "{}", p.name);
            }
        }
        assert!(md.contains("DETECT_MASS_DELETION_THRESHOLD"));
    }
}
