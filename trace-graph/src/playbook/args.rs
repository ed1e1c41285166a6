//! Arguments of a question, as a person types them (`user=alice`), checked
//! against the question's parameters before anything is sent to Neo4j.
//!
//! Values arrive as text (from a shell or a form); [`bind`] turns them into
//! typed query parameters. An unknown name, a missing required value, a word
//! where a number belongs or a malformed date is an [`Error::Question`] that
//! names the parameter and what it expects. Values never become Cypher text.

use super::{ParamKind, Question};
use crate::error::Error;
use neo4rs::BoltType;
use std::collections::BTreeMap;

/// Parameter values for one question, by parameter name.
///
/// A name may be given several times; list parameters take every value (and
/// split each on commas), other parameters take exactly one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    values: BTreeMap<String, Vec<String>>,
}

impl Args {
    /// No values: every parameter takes its default.
    pub fn new() -> Self {
        Args::default()
    }

    /// Adds a value for `name` (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(name, value);
        self
    }

    /// Adds a value for `name`.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values
            .entry(name.into())
            .or_default()
            .push(value.into());
    }

    /// Adds a value written as `name=value` (the command-line form).
    ///
    /// Errors: [`Error::Question`] when there is no `=` or the name is empty.
    pub fn push_pair(&mut self, pair: &str) -> Result<(), Error> {
        match pair.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                self.push(name.trim(), value);
                Ok(())
            }
            _ => Err(Error::Question {
                question: String::new(),
                problem: format!(
                    "expected a parameter as name=value, e.g. user=alice; got {pair:?}"
                ),
            }),
        }
    }

    /// The values given for `name`, in order.
    pub fn get(&self, name: &str) -> Option<&[String]> {
        self.values.get(name).map(Vec::as_slice)
    }

    /// Every name with its values, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }
}

/// Checks `args` against the parameters of `question` and returns the query
/// parameters, one per declared parameter (defaults and nulls included).
pub(crate) fn bind(
    question: &Question,
    args: &Args,
) -> Result<Vec<(&'static str, BoltType)>, Error> {
    let fail = |problem: String| Error::Question {
        question: question.name.to_owned(),
        problem,
    };
    let known = || {
        question
            .params
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some((name, _)) = args
        .iter()
        .find(|(name, _)| !question.params.iter().any(|p| p.name == *name))
    {
        return Err(fail(format!(
            "unknown parameter `{name}`; this question takes: {}",
            known()
        )));
    }
    let mut out = Vec::with_capacity(question.params.len());
    for param in question.params {
        let given: Vec<String> = match (args.get(param.name), param.default) {
            (Some(values), _) => values.to_vec(),
            (None, Some(default)) => vec![default.to_owned()],
            (None, None) => Vec::new(),
        };
        let value = match param.kind {
            ParamKind::TextList => {
                let items: Vec<String> = given
                    .iter()
                    .flat_map(|v| v.split(','))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if items.is_empty() && param.required {
                    return Err(fail(format!(
                        "parameter `{}` is required: {}",
                        param.name, param.description
                    )));
                }
                BoltType::from(items)
            }
            kind => {
                let one = match given.as_slice() {
                    [] => None,
                    [one] => Some(one.trim()),
                    _ => {
                        return Err(fail(format!(
                            "parameter `{}` takes one value, got {}",
                            param.name,
                            given.len()
                        )))
                    }
                };
                match (one, kind) {
                    (None | Some(""), _) if param.required => {
                        return Err(fail(format!(
                            "parameter `{}` is required: {}",
                            param.name, param.description
                        )))
                    }
                    (None | Some(""), _) => BoltType::from(None::<String>),
                    (Some(v), ParamKind::Integer) => {
                        let n: i64 = v.parse().map_err(|_| {
                            fail(format!(
                                "parameter `{}` must be a whole number, e.g. 10; got {v:?}",
                                param.name
                            ))
                        })?;
                        BoltType::from(n)
                    }
                    (Some(v), ParamKind::DateTime) => {
                        check_datetime(v).map_err(|why| {
                            fail(format!(
                                "parameter `{}` must be an ISO-8601 date or date-time such as \
                                 2024-06-03 or 2024-06-03T08:00:00Z ({why}); got {v:?}",
                                param.name
                            ))
                        })?;
                        BoltType::from(v.to_owned())
                    }
                    (Some(v), _) => BoltType::from(v.to_owned()),
                }
            }
        };
        out.push((param.name, value));
    }
    Ok(out)
}

/// Accepts `YYYY-MM-DD`, optionally followed by `THH:MM`, `:SS`, a fraction
/// and a zone (`Z` or `±HH:MM`); checks the ranges of every field.
fn check_datetime(v: &str) -> Result<(), &'static str> {
    let b = v.as_bytes();
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let field = |from: usize, n: usize, max: u32, min: u32, what: &'static str| {
        digits(from, n)
            .filter(|x| (min..=max).contains(x))
            .ok_or(what)
    };
    field(0, 4, 9999, 0, "bad year")?;
    (b.get(4) == Some(&b'-'))
        .then_some(())
        .ok_or("expected YYYY-MM-DD")?;
    field(5, 2, 12, 1, "month must be 01 to 12")?;
    (b.get(7) == Some(&b'-'))
        .then_some(())
        .ok_or("expected YYYY-MM-DD")?;
    field(8, 2, 31, 1, "day must be 01 to 31")?;
    if b.len() == 10 {
        return Ok(());
    }
    (b.get(10) == Some(&b'T'))
        .then_some(())
        .ok_or("expected T between date and time")?;
    field(11, 2, 23, 0, "hour must be 00 to 23")?;
    (b.get(13) == Some(&b':'))
        .then_some(())
        .ok_or("expected HH:MM")?;
    field(14, 2, 59, 0, "minute must be 00 to 59")?;
    let mut i = 16;
    if b.get(i) == Some(&b':') {
        field(i + 1, 2, 59, 0, "second must be 00 to 59")?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start || i - start > 9 {
                return Err("a fraction needs 1 to 9 digits");
            }
        }
    }
    match b.get(i) {
        None => Ok(()),
        Some(b'Z') if i + 1 == b.len() => Ok(()),
        Some(b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            field(i + 1, 2, 18, 0, "zone hours must be 00 to 18")?;
            field(i + 4, 2, 59, 0, "zone minutes must be 00 to 59")?;
            Ok(())
        }
        Some(_) => Err("unexpected text after the time; a zone is Z or +HH:MM"),
    }
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
