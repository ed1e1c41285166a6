//! Checks every question's shape without a database; the answers themselves
//! are checked against a real Neo4j in `tests/playbook/`.

use super::QUESTIONS;
use std::collections::BTreeSet;

/// The `$names` a Cypher text refers to.
fn parameters_used(cypher: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = cypher;
    while let Some(i) = rest.find('$') {
        let name: String = rest[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        out.insert(name);
        rest = &rest[i + 1..];
    }
    out
}

#[test]
fn there_are_at_least_25_questions_with_unique_kebab_case_names() {
    assert!(QUESTIONS.len() >= 25, "{}", QUESTIONS.len());
    let mut names = BTreeSet::new();
    for q in QUESTIONS {
        assert!(names.insert(q.name), "duplicate question name {}", q.name);
        assert!(
            q.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{} is not kebab-case",
            q.name
        );
        assert!(q.title.ends_with('?'), "{}: a title is a question", q.name);
        assert!(!q.description.is_empty() && !q.section.is_empty());
    }
}

#[test]
fn every_parameter_is_declared_and_every_declaration_is_used() {
    for q in QUESTIONS {
        let declared: BTreeSet<String> = q.params.iter().map(|p| p.name.to_owned()).collect();
        assert_eq!(
            declared.len(),
            q.params.len(),
            "{}: a parameter is declared twice",
            q.name
        );
        assert_eq!(parameters_used(q.cypher), declared, "{}", q.name);
    }
}

#[test]
fn every_question_is_restrictable_to_projects() {
    for q in QUESTIONS {
        assert!(
            q.params.iter().any(|p| p.name == "projects"),
            "{} lacks the projects parameter",
            q.name
        );
        assert!(
            q.cypher.contains(".projectId IN $projects"),
            "{} does not filter on $projects",
            q.name
        );
    }
}

#[test]
fn every_question_orders_its_rows_and_names_its_columns() {
    for q in QUESTIONS {
        let last_order = q.cypher.rfind("ORDER BY").unwrap_or(0);
        let last_return = q.cypher.rfind("RETURN").unwrap_or(usize::MAX);
        assert!(
            last_order > last_return,
            "{}: the final RETURN must be ordered",
            q.name
        );
        let returned = &q.cypher[last_return..last_order];
        for column in q.columns {
            let aliased = returned.contains(&format!(" AS {column}"));
            let bare = returned
                .split([',', ' ', '\n'])
                .any(|word| word.trim() == *column);
            assert!(
                aliased || bare,
                "{}: column {column} is not in the RETURN clause",
                q.name
            );
        }
    }
}

#[test]
fn no_datetime_is_returned_raw() {
    // DATETIME values do not convert to JSON cells; every time is returned via toString.
    for q in QUESTIONS {
        let last_return = q.cypher.rfind("RETURN").unwrap_or(0);
        let returned = &q.cypher[last_return..];
        for raw in ["a.time AS", "min(a.time) AS", "max(a.time) AS"] {
            assert!(
                !returned.contains(&format!(" {raw}")),
                "{}: returns {raw} without toString",
                q.name
            );
        }
    }
}

#[test]
fn long_value_lookups_seek_by_the_prefix_every_index_form_starts_with() {
    let prefix = format!("> {n} THEN left(", n = crate::indexed::PREFIX_CHARS);
    let mut lookups = 0;
    for q in QUESTIONS {
        for (i, _) in q.cypher.match_indices("STARTS WITH CASE WHEN size(") {
            let rest = &q.cypher[i..];
            let param_end = rest.find(')').expect("size(...)");
            let param = &rest["STARTS WITH CASE WHEN size(".len()..param_end];
            assert!(
                rest[param_end..].starts_with(&format!(
                    ") {prefix}{param}, {}) END",
                    crate::indexed::PREFIX_CHARS
                )),
                "{}: {}",
                q.name,
                &rest[..200.min(rest.len())]
            );
            lookups += 1;
        }
    }
    // resource: id in resource-lookup, id and name in resource-changes and
    // resource-life (5); user: name and id in 6 questions (12); ip: 1.
    assert_eq!(lookups, 18);
}
