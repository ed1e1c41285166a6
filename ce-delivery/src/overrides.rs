//! `K_CE_OVERRIDES`: the CloudEvent overrides Knative injects into a source.
//!
//! Knative passes `{"extensions": {"name": "value", ...}}`; each extension is
//! set on every event, replacing a value the source set itself. The names
//! are checked here once, so a bad name is a configuration error at start and
//! not a rejected event at the sink. The value is passed in by the caller
//! (this crate never reads the environment).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::Error;

/// Context attribute names an extension must not shadow.
const RESERVED: &[&str] = &[
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
    "data_base64",
];

/// Extensions applied to every event, after the exporter's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Extension name to value.
    pub extensions: BTreeMap<String, String>,
}

impl Overrides {
    /// Parses the JSON Knative injects, e.g. `{"extensions":{"team":"ops"}}`;
    /// blank text means no overrides. Extension values may be strings, numbers
    /// or booleans (kept as their JSON text).
    ///
    /// # Errors
    ///
    /// [`Error::Overrides`] when the text is not JSON, not an object, or names
    /// an extension that is not valid CloudEvents or is a context attribute.
    pub fn parse(raw: &str) -> Result<Overrides, Error> {
        if raw.trim().is_empty() {
            return Ok(Overrides::default());
        }
        let value: Value = serde_json::from_str(raw).map_err(|e| {
            overrides_error(format!("is not valid JSON ({e}); expected e.g. {{\"extensions\":{{\"team\":\"ops\"}}}}, got {raw:?}"),
            )
        })?;
        let Value::Object(top) = value else {
            return Err(overrides_error(format!("must be a JSON object such as {{\"extensions\":{{\"team\":\"ops\"}}}}; got {raw:?}"),
            ));
        };
        let mut extensions = BTreeMap::new();
        match top.get("extensions") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, v) in map {
                    check_name(name)?;
                    let value = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => {
                            return Err(overrides_error(format!(
                                "extension {name:?} must have a string value, got {v}"
                            )))
                        }
                    };
                    extensions.insert(name.clone(), value);
                }
            }
            Some(other) => {
                return Err(overrides_error(format!(
                    "\"extensions\" must be an object of name to string, got {other}"
                )))
            }
        }
        Ok(Overrides { extensions })
    }
}

/// CloudEvents 1.0: extension names are lower-case ASCII letters and digits.
pub fn valid_extension_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn overrides_error(problem: impl Into<String>) -> Error {
    Error::Overrides {
        problem: problem.into(),
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    if !valid_extension_name(name) {
        return Err(overrides_error(format!("extension name {name:?} is not valid CloudEvents: use lower-case letters a-z and digits only, e.g. \"team\""),
        ));
    }
    if RESERVED.contains(&name) {
        return Err(overrides_error(format!(
            "{name:?} is a CloudEvents context attribute, not an extension; choose another name"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_knative_shape() {
        let o = Overrides::parse(r#"{"extensions":{"team":"ops","tier":3}}"#).expect("valid");
        assert_eq!(o.extensions.get("team").map(String::as_str), Some("ops"));
        assert_eq!(o.extensions.get("tier").map(String::as_str), Some("3"));
        assert!(Overrides::parse("{}").expect("valid").extensions.is_empty());
        assert!(Overrides::parse("  ").expect("valid").extensions.is_empty());
    }

    #[test]
    fn rejects_bad_json_with_the_setting_name() {
        let e = Overrides::parse("{extensions:").expect_err("invalid");
        assert!(e.to_string().contains("not valid JSON"), "{e}");
    }

    #[test]
    fn rejects_bad_names_and_values() {
        for (raw, needle) in [
            (r#"{"extensions":{"Team":"x"}}"#, "lower-case"),
            (r#"{"extensions":{"my-ext":"x"}}"#, "lower-case"),
            (r#"{"extensions":{"source":"x"}}"#, "context attribute"),
            (r#"{"extensions":{"a":{"b":1}}}"#, "string value"),
            (r#"{"extensions":[1]}"#, "must be an object"),
            (r#"[1]"#, "JSON object"),
        ] {
            let e = Overrides::parse(raw).expect_err(raw);
            assert!(e.to_string().contains(needle), "{raw}: {e}");
        }
    }
}
