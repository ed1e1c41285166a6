//! Which rules run and with which values: checked once, before any query.

use super::{find, Rule, RULES};
use crate::error::Error;
use neo4rs::BoltType;
use std::collections::BTreeMap;

/// The enabled rules and the values of their parameters.
///
/// Built from the defaults ([`RuleSettings::default`]) and changed with
/// [`RuleSettings::enable_only`], [`RuleSettings::disable`] and
/// [`RuleSettings::set`], each of which checks its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSettings {
    enabled: Vec<&'static Rule>,
    values: BTreeMap<(&'static str, &'static str), String>,
}

impl Default for RuleSettings {
    /// Every rule enabled, every parameter at its default.
    fn default() -> Self {
        RuleSettings {
            enabled: RULES.iter().collect(),
            values: BTreeMap::new(),
        }
    }
}

fn unknown(name: &str) -> Error {
    Error::Detection {
        rule: name.to_owned(),
        problem: format!(
            "there is no such rule; known rules: {}",
            RULES.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
        ),
    }
}

impl RuleSettings {
    /// Keeps only the named rules (in [`RULES`] order).
    ///
    /// Errors: [`Error::Detection`] naming an unknown rule and listing the known ones.
    pub fn enable_only(&mut self, names: &[&str]) -> Result<(), Error> {
        for n in names {
            find(n).ok_or_else(|| unknown(n))?;
        }
        self.enabled.retain(|r| names.contains(&r.name));
        Ok(())
    }

    /// Switches the named rules off.
    ///
    /// Errors: [`Error::Detection`] naming an unknown rule.
    pub fn disable(&mut self, names: &[&str]) -> Result<(), Error> {
        for n in names {
            find(n).ok_or_else(|| unknown(n))?;
        }
        self.enabled.retain(|r| !names.contains(&r.name));
        Ok(())
    }

    /// Sets parameter `param` of rule `rule` to `value` (an integer within
    /// the parameter's bounds, or a non-empty text for a text parameter).
    ///
    /// Errors: [`Error::Detection`] naming the rule, the parameter, the allowed
    /// values and the value given.
    pub fn set(&mut self, rule: &str, param: &str, value: &str) -> Result<(), Error> {
        let r = find(rule).ok_or_else(|| unknown(rule))?;
        let p = r
            .params
            .iter()
            .find(|p| p.name == param)
            .ok_or_else(|| Error::Detection {
                rule: rule.to_owned(),
                problem: format!(
                    "no parameter `{param}`; it has: {}",
                    if r.params.is_empty() {
                        "none".to_owned()
                    } else {
                        r.params
                            .iter()
                            .map(|p| p.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            })?;
        let v = value.trim();
        match (p.min, p.max) {
            (Some(min), Some(max)) => {
                let n: i64 = v.parse().map_err(|_| Error::Detection {
                    rule: rule.to_owned(),
                    problem: format!(
                        "`{param}` must be a whole number from {min} to {max}; got {value:?}"
                    ),
                })?;
                if n < min || n > max {
                    return Err(Error::Detection {
                        rule: rule.to_owned(),
                        problem: format!("`{param}` must be from {min} to {max}; got {n}"),
                    });
                }
            }
            _ => {
                if v.is_empty() {
                    return Err(Error::Detection {
                        rule: rule.to_owned(),
                        problem: format!("`{param}` must not be empty (default {:?})", p.default),
                    });
                }
            }
        }
        self.values.insert((r.name, p.name), v.to_owned());
        Ok(())
    }

    /// The enabled rules, in [`RULES`] order.
    pub fn enabled(&self) -> &[&'static Rule] {
        &self.enabled
    }

    /// The value of a parameter (the setting, else the default).
    pub fn value(&self, rule: &Rule, param: &str) -> Option<String> {
        let p = rule.params.iter().find(|p| p.name == param)?;
        Some(
            self.values
                .get(&(rule.name, p.name))
                .cloned()
                .unwrap_or_else(|| p.default.to_owned()),
        )
    }

    /// The rule's parameters as query parameters (integers as integers).
    pub(crate) fn bolt_params(&self, rule: &Rule) -> Vec<(&'static str, BoltType)> {
        rule.params
            .iter()
            .map(|p| {
                let v = self.value(rule, p.name).unwrap_or_default();
                let bolt = match (p.min, v.parse::<i64>()) {
                    (Some(_), Ok(n)) => BoltType::from(n),
                    _ => BoltType::from(v),
                };
                (p.name, bolt)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_name_the_fix() {
        let mut s = RuleSettings::default();
        assert_eq!(s.enabled().len(), RULES.len());
        let e = s
            .enable_only(&["no-such-rule"])
            .expect_err("must fail")
            .to_string();
        assert!(
            e.contains("no-such-rule") && e.contains("mass-deletion"),
            "{e}"
        );
        let e = s
            .set("mass-deletion", "threshold", "0")
            .expect_err("must fail")
            .to_string();
        assert!(e.contains("from 2 to"), "{e}");
        let e = s
            .set("mass-deletion", "threshold", "ten")
            .expect_err("must fail")
            .to_string();
        assert!(e.contains("whole number") && e.contains("\"ten\""), "{e}");
        let e = s
            .set("mass-deletion", "nope", "1")
            .expect_err("must fail")
            .to_string();
        assert!(e.contains("window_secs"), "{e}");
        s.set("mass-deletion", "threshold", " 7 ").expect("ok");
        let r = find("mass-deletion").expect("ok");
        assert_eq!(s.value(r, "threshold").as_deref(), Some("7"));
        assert!(s
            .bolt_params(r)
            .iter()
            .any(|(n, v)| *n == "threshold" && *v == BoltType::from(7i64)));
        s.disable(&["mass-deletion"]).expect("ok");
        assert!(s.enabled().iter().all(|r| r.name != "mass-deletion"));
        s.enable_only(&["kms-key-deletion"]).expect("ok");
        assert_eq!(s.enabled().len(), 1);
    }
}
