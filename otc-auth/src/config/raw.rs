//! The file shape of `clouds.yaml` / `secure.yaml` / `clouds.json`, before validation.
//!
//! Every field is optional here because a value may come from clouds.yaml, secure.yaml, the environment
//! or a vendor profile. [`RawCloud::fill_from`] merges two layers (the receiver's values win), and
//! `resolve` later turns the merged layer into a checked [`CloudConfig`](crate::CloudConfig).
//! Unknown keys (image_format, regions, ...) are ignored: real clouds.yaml files carry many of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::{Error, Secret};

/// A whole file: `clouds: { name: cloud, ... }`.
///
/// The `expecting` texts below are what a type error says was expected: they
/// name the YAML shape, never these Rust types.
#[derive(Debug, Default, Deserialize)]
#[serde(
    expecting = "a mapping with a `clouds:` key (clouds: {<cloud name>: {auth: ..., region_name: ...}})"
)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub clouds: Option<BTreeMap<String, RawCloud>>,
}

/// One cloud entry.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(
    expecting = "a mapping of cloud settings (auth:, region_name:, ...) under the cloud's name"
)]
pub(crate) struct RawCloud {
    pub profile: Option<String>,
    /// Deprecated alias of `profile`.
    pub cloud: Option<String>,
    #[serde(default)]
    pub auth: RawAuth,
    pub auth_type: Option<String>,
    pub region_name: Option<String>,
    pub interface: Option<String>,
    pub endpoint_type: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub identity_api_version: Option<String>,
    pub verify: Option<bool>,
    pub cacert: Option<PathBuf>,
    /// AK/SK signature form: `sdk` (default) or `guide`.
    pub aksk_signing: Option<String>,
}

/// The `auth:` block.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(
    expecting = "a mapping of auth settings (auth_url:, username:, password:, ...) under `auth:`"
)]
pub(crate) struct RawAuth {
    pub auth_url: Option<String>,
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub password: Option<Secret>,
    pub token: Option<Secret>,
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub project_domain_name: Option<String>,
    pub project_domain_id: Option<String>,
    pub user_domain_name: Option<String>,
    pub user_domain_id: Option<String>,
    pub domain_name: Option<String>,
    pub domain_id: Option<String>,
    pub default_domain: Option<String>,
    #[serde(alias = "access_key")]
    pub ak: Option<String>,
    #[serde(alias = "secret_key")]
    pub sk: Option<Secret>,
    pub security_token: Option<Secret>,
    pub target_agency_name: Option<String>,
    pub target_domain_id: Option<String>,
    pub target_project_name: Option<String>,
}

/// For each listed field: keep `self`'s value, else take `other`'s.
macro_rules! fill {
    ($self:ident, $other:ident, $($field:ident),+ $(,)?) => {
        $( if $self.$field.is_none() { $self.$field = $other.$field.clone(); } )+
    };
}

impl RawCloud {
    /// Fills every unset field from `other` (the receiver wins).
    pub fn fill_from(&mut self, other: &RawCloud) {
        fill!(
            self,
            other,
            profile,
            cloud,
            auth_type,
            region_name,
            interface,
            endpoint_type,
            identity_api_version,
            verify,
            cacert,
            aksk_signing
        );
        self.auth.fill_from(&other.auth);
    }
}

impl RawAuth {
    /// Fills every unset field from `other` (the receiver wins).
    pub fn fill_from(&mut self, other: &RawAuth) {
        fill!(
            self,
            other,
            auth_url,
            username,
            user_id,
            password,
            token,
            project_name,
            project_id,
            project_domain_name,
            project_domain_id,
            user_domain_name,
            user_domain_id,
            domain_name,
            domain_id,
            default_domain,
            ak,
            sk,
            security_token,
            target_agency_name,
            target_domain_id,
            target_project_name,
        );
    }

    /// Drops values that are empty strings, so `password: ''` counts as "not set" and can be filled.
    pub fn drop_empty(&mut self) {
        fn s(v: &mut Option<String>) {
            if v.as_deref().is_some_and(|x| x.trim().is_empty()) {
                *v = None;
            }
        }
        fn z(v: &mut Option<Secret>) {
            if v.as_ref().is_some_and(Secret::is_empty) {
                *v = None;
            }
        }
        for v in [
            &mut self.auth_url,
            &mut self.username,
            &mut self.user_id,
            &mut self.project_name,
            &mut self.project_id,
            &mut self.project_domain_name,
            &mut self.project_domain_id,
            &mut self.user_domain_name,
            &mut self.user_domain_id,
            &mut self.domain_name,
            &mut self.domain_id,
            &mut self.default_domain,
            &mut self.ak,
            &mut self.target_agency_name,
            &mut self.target_domain_id,
            &mut self.target_project_name,
        ] {
            s(v);
        }
        for v in [
            &mut self.password,
            &mut self.token,
            &mut self.sk,
            &mut self.security_token,
        ] {
            z(v);
        }
    }
}

/// Parses a file's text: `.json` with serde_json, everything else with serde_norway (YAML).
/// Syntax and type errors carry the file, line and column.
pub(crate) fn parse_file(path: &Path, text: &str) -> Result<RawFile, Error> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if text.trim().is_empty() {
        return Ok(RawFile::default());
    }
    let mut file: RawFile = if is_json {
        serde_json::from_str(text).map_err(|e| Error::Parse {
            path: path.to_owned(),
            line: Some(e.line()),
            column: Some(e.column()),
            message: with_hint(strip_location(&e.to_string())),
        })?
    } else {
        if let Some((line, column)) = too_deep(text) {
            return Err(Error::Parse {
                path: path.to_owned(),
                line: Some(line),
                column: Some(column),
                message: format!(
                    "brackets nest deeper than {MAX_FLOW_DEPTH} levels ([ ] or {{ }}); a clouds.yaml \
                     needs 3 or 4, so the file is damaged or not a clouds.yaml"
                ),
            });
        }
        serde_norway::from_str(text).map_err(|e| {
            let loc = e.location();
            Error::Parse {
                path: path.to_owned(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message: with_hint(strip_location(&e.to_string())),
            }
        })?
    };
    if let Some(clouds) = file.clouds.as_mut() {
        for cloud in clouds.values_mut() {
            cloud.auth.drop_empty();
        }
    }
    Ok(file)
}

/// The deepest `[`/`{` nesting a YAML file may have. Real files need 3 or 4; the YAML parser's time
/// grows with the square of this depth (about 1 s at 10,000 levels), so deeper files are refused
/// before parsing. (JSON files are bounded by serde_json's own recursion limit of 128.)
const MAX_FLOW_DEPTH: usize = 64;

/// Where `[`/`{` nesting outside quoted strings and comments first goes deeper than
/// [`MAX_FLOW_DEPTH`], as 1-based (line, column). Plain scalars with an apostrophe (`it's`) may hide
/// brackets after them from the count, which can only make it lower, never refuse a good file.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        column += 1;
        if c == '\n' {
            (line, column, comment, prev) = (line + 1, 0, false, c);
            continue;
        }
        match (quote, comment) {
            (_, true) => {}
            (Some('"'), _) if c == '\\' => {
                chars.next();
                column += 1;
            }
            (Some('\''), _) if c == '\'' && chars.peek() == Some(&'\'') => {
                chars.next();
                column += 1;
            }
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, _) => match c {
                '#' if prev.is_whitespace() => comment = true,
                '"' | '\'' => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some((line, column));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    None
}

/// serde_norway embeds " at line L column C" in its message; the error type prints the location itself.
fn strip_location(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " at line ".len()..];
        let digits = |t: &str| t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let n = digits(tail);
        let after_line = &tail[n..];
        match after_line.strip_prefix(" column ") {
            Some(col) if n > 0 => rest = &col[digits(col)..],
            _ => {
                out.push_str(" at line ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn with_hint(msg: String) -> String {
    let wants_text =
        msg.contains("expected a string") || msg.contains("expected a borrowed string");
    let got_collection =
        msg.contains("invalid type: sequence") || msg.contains("invalid type: map");
    if wants_text && got_collection {
        format!("{msg} (a single value belongs here, not a list or mapping: check the indentation of this line and the next)")
    } else if wants_text {
        format!("{msg} (quote values that look like numbers or booleans, e.g. password: '12345')")
    } else if msg.contains("while parsing") || msg.contains("while scanning") {
        format!("{msg} (YAML syntax: check quotes and indentation on this line and the lines just above it)")
    } else {
        msg
    }
}

/// Accepts `identity_api_version: 3` as well as `'3'` (and `3.0`).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Version;
    impl<'v> serde::de::Visitor<'v> for Version {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a version number or string (identity_api_version: 3)")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'v>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }
    d.deserialize_any(Version)
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    #[test]
    fn brackets_deeper_than_the_limit_are_refused_before_parsing() {
        let ok = format!("clouds: {}{}\n", "[".repeat(64), "]".repeat(64));
        assert_eq!(too_deep(&ok), None);
        let deep = format!(
            "clouds:\n  x: {}{}\n",
            "{a: ".repeat(100_000),
            "}".repeat(100_000)
        );
        assert_eq!(too_deep(&deep), Some((2, 6 + 4 * 64)));
        let path = Path::new("/etc/openstack/clouds.yaml");
        let text = parse_file(path, &deep).expect_err("refused").to_string();
        assert!(
            text.contains("clouds.yaml line 2 column 262") && text.contains("deeper than 64"),
            "{text}"
        );
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let many = "[".repeat(200);
        for text in [
            format!("a: \"{many}\"\n"),
            format!("a: '{many}'\n"),
            format!("a: 'it''s {many}'\n"),
            format!("a: \"esc \\\" {many}\"\n"),
            format!("a: 1 # {many}\n"),
        ] {
            assert_eq!(too_deep(&text), None, "{text}");
        }
        assert!(
            too_deep(&format!("a: 1#{many}\n")).is_some(),
            "# without a space is not a comment"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_plain_numbers_are_read_as_text() {
        let text = "clouds:\n  otc:\n    auth:\n      password: 0012345\n";
        let f = parse_file(Path::new("c.yaml"), text).expect("numeric scalar as string");
        let pw = f.clouds.expect("clouds")["otc"]
            .auth
            .password
            .clone()
            .expect("password");
        assert_eq!(pw.expose(), "0012345");
    }

    #[test]
    fn yaml_type_error_has_line_and_column() {
        let text = "clouds:\n  otc:\n    verify: maybe\n";
        let err = parse_file(Path::new("/x/clouds.yaml"), text).expect_err("bad bool");
        assert!(
            matches!(
                err,
                Error::Parse {
                    line: Some(3),
                    column: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.starts_with("/x/clouds.yaml line 3 column "), "{msg}");
        assert!(!msg.contains(" at line "), "location printed twice: {msg}");
    }

    #[test]
    fn yaml_unterminated_quote_has_line_and_column() {
        // The bug of the original Go exporter's clouds.tpl (akyriako/cloudtrace-exporter): an unterminated quote.
        let text = "clouds:\n  otc:\n    auth:\n      project_name: 'eu-de_<PROJECT_NAME>\n      user_domain_name: 'OTC'\n";
        let err = parse_file(Path::new("/x/clouds.yaml"), text).expect_err("syntax error");
        let msg = err.to_string();
        match err {
            Error::Parse { line, column, .. } => {
                assert!(line.is_some_and(|l| l >= 4), "{line:?}");
                assert!(column.is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            msg.matches("column").count(),
            1,
            "location printed once: {msg}"
        );
        assert!(msg.contains("check quotes"), "{msg}");
    }

    #[test]
    fn strip_location_removes_embedded_positions_only() {
        assert_eq!(
            strip_location("did not find expected key at line 8 column 26, while parsing a block mapping at line 3 column 5"),
            "did not find expected key, while parsing a block mapping"
        );
        assert_eq!(strip_location("value at line x"), "value at line x");
    }

    #[test]
    fn json_error_has_line_and_column() {
        let err = parse_file(Path::new("c.json"), "{\"clouds\": {\n  \"a\": [}\n}")
            .expect_err("bad json");
        assert!(
            matches!(
                err,
                Error::Parse {
                    line: Some(2),
                    column: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn aliases_and_numeric_api_version() {
        let text = "clouds:\n  a:\n    identity_api_version: 3\n    auth:\n      access_key: AK1\n      secret_key: SK1\n";
        let f = parse_file(Path::new("c.yaml"), text).expect("valid");
        let a = &f.clouds.expect("clouds")["a"];
        assert_eq!(a.identity_api_version.as_deref(), Some("3"));
        assert_eq!(a.auth.ak.as_deref(), Some("AK1"));
        assert_eq!(a.auth.sk.as_ref().map(Secret::expose), Some("SK1"));
    }

    #[test]
    fn fill_keeps_own_values_and_drops_empty() {
        let mut a = RawCloud::default();
        a.auth.username = Some("file-user".into());
        a.auth.password = Some(Secret::new(""));
        a.auth.drop_empty();
        let mut b = RawCloud::default();
        b.auth.username = Some("env-user".into());
        b.auth.password = Some(Secret::new("env-pw"));
        b.region_name = Some("eu-nl".into());
        a.fill_from(&b);
        assert_eq!(a.auth.username.as_deref(), Some("file-user"));
        assert_eq!(a.auth.password.as_ref().map(Secret::expose), Some("env-pw"));
        assert_eq!(a.region_name.as_deref(), Some("eu-nl"));
    }
}
