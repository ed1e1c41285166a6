//! Malformed clouds.yaml / secure.yaml / clouds.json: the error names the YAML
//! concept that was expected, the file, line and column, never a Rust type.

use otc_auth::{load_cloud, Error};

use crate::common::Sandbox;

/// Words that only appear when a Rust type name leaks into a message.
const LEAKS: [&str; 5] = ["Raw", "struct", "enum", "variant", "Option<"];

/// Loads `text` as `file` (under the sandbox's cwd) and returns the parse error.
fn parse_error(file: &str, text: &str) -> (Error, String) {
    let sb = Sandbox::new();
    sb.write(&format!("cwd/{file}"), text);
    let err = load_cloud(&sb.opts, None).expect_err("malformed file");
    let msg = err.to_string();
    assert!(matches!(err, Error::Parse { .. }), "{err:?}");
    (err, msg)
}

fn assert_clean(msg: &str) {
    for word in LEAKS {
        assert!(!msg.contains(word), "{word:?} leaks into: {msg}");
    }
}

#[test]
fn wrong_shapes_name_the_yaml_concept() {
    let cases: [(&str, &str, &str); 8] = [
        // (file, text, what the message must say was expected)
        (
            "clouds.yaml",
            "- otc\n- other\n",
            "a mapping with a `clouds:` key",
        ),
        (
            "clouds.yaml",
            "clouds:\n  otc: 42\n",
            "a mapping of cloud settings",
        ),
        (
            "clouds.yaml",
            "clouds:\n  otc: [a, b]\n",
            "a mapping of cloud settings",
        ),
        (
            "clouds.yaml",
            "clouds:\n  otc:\n    auth: yes\n",
            "a mapping of auth settings",
        ),
        (
            "clouds.yaml",
            "clouds:\n  otc:\n    auth: [u, p]\n",
            "a mapping of auth settings",
        ),
        (
            "clouds.yaml",
            "clouds:\n  otc:\n    identity_api_version: [3]\n",
            "a version number or string",
        ),
        (
            "secure.yaml",
            "clouds:\n  otc: text\n",
            "a mapping of cloud settings",
        ),
        (
            "clouds.json",
            "{\"clouds\": {\"otc\": 1}}",
            "a mapping of cloud settings",
        ),
    ];
    for (file, text, expected) in cases {
        let (err, msg) = parse_error(file, text);
        assert_clean(&msg);
        assert!(msg.contains(expected), "{file} {text:?}: {msg}");
        let Error::Parse {
            path, line, column, ..
        } = &err
        else {
            unreachable!()
        };
        assert!(path.ends_with(file), "{path:?}");
        assert!(
            line.is_some() && column.is_some(),
            "{file} {text:?}: {err:?}"
        );
    }
}

#[test]
fn a_list_where_one_value_belongs_says_so() {
    let (_, msg) = parse_error(
        "clouds.yaml",
        "clouds:\n  otc:\n    auth:\n      password: [1]\n",
    );
    assert_clean(&msg);
    assert!(
        msg.contains("clouds.yaml line 4 column")
            && msg.contains("clouds.otc.auth.password")
            && msg.contains("not a list or mapping"),
        "{msg}"
    );
    let (_, msg) = parse_error("clouds.yaml", "clouds:\n  otc:\n    region_name: {a: 1}\n");
    assert_clean(&msg);
    assert!(
        msg.contains("line 3") && msg.contains("not a list or mapping"),
        "{msg}"
    );
    let (_, msg) = parse_error("clouds.yaml", "clouds: 5\n");
    assert_clean(&msg);
    assert!(msg.contains("line 1") && msg.contains("clouds:"), "{msg}");
}

#[test]
fn json_errors_print_the_location_once() {
    let (_, msg) = parse_error("clouds.json", "{\"clouds\": {\"otc\": 1}}");
    assert_clean(&msg);
    assert_eq!(msg.matches("line").count(), 1, "{msg}");
}

#[test]
fn identity_api_version_still_accepts_numbers_and_text() {
    for v in ["3", "'3'", "3.0"] {
        let sb = Sandbox::new();
        sb.write(
            "cwd/clouds.yaml",
            &format!(
                "clouds:\n  otc:\n    identity_api_version: {v}\n    auth:\n      auth_url: https://iam.example.com/v3\n      username: u\n      password: p\n      project_name: eu-de_x\n      user_domain_name: OTC1\n"
            ),
        );
        load_cloud(&sb.opts, None).unwrap_or_else(|e| panic!("{v}: {e}"));
    }
}
