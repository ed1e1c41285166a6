//! Harness of the `clouds_yaml` fuzz target, shared with the replay test
//! `otc-auth/tests/fuzz_regressions.rs` (included there with `#[path]`), so a
//! regression file is replayed through exactly the code the fuzzer ran.
//!
//! otc-auth has one entry point, [`otc_auth::load_cloud`], fed by files and an
//! environment map ([`otc_auth::LoadOptions`]). The input is split at lines
//! `%%` into up to three parts: the clouds file, the secure file and the
//! environment (`KEY=VALUE` lines). Each file part that is not empty is written
//! into a fresh temporary directory used as the working directory, as
//! `clouds.json`/`secure.json` when it starts with `{`, else as `.yaml`. The
//! cloud is chosen the normal way (`OS_CLOUD` from the environment part, else
//! the only one). `OS_CLIENT_CONFIG_FILE`/`OS_CLIENT_SECURE_FILE` are kept only
//! when they name a file in that directory, so no input reads other files.
//!
//! Checked: no panic; an error has a message; no password, secret key or
//! token from the input appears in the error, its `Debug`, or the `Debug` of a
//! loaded configuration.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use otc_auth::{load_cloud, CloudConfig, LoadOptions};

/// Secret fields of a clouds.yaml `auth:` block.
const SECRET_KEYS: [&str; 5] = ["password", "token", "sk", "secret_key", "security_token"];
/// Environment variables holding secrets.
const SECRET_VARS: [&str; 9] = [
    "OS_PASSWORD",
    "OS_TOKEN",
    "OS_TOKEN_ID",
    "OS_SECRET_KEY",
    "OS_ACCESS_KEY_SECRET",
    "OS_SK",
    "OS_SECURITY_TOKEN",
    "OS_AKSK_SECURITY_TOKEN",
    "OS_ST",
];

/// The three parts of an input.
#[derive(Debug, Default)]
pub struct Parts<'a> {
    /// clouds.yaml / clouds.json text.
    pub clouds: &'a [u8],
    /// secure.yaml / secure.json text.
    pub secure: &'a [u8],
    /// The environment.
    pub env: HashMap<String, String>,
}

/// Splits the input (see the module docs).
pub fn split(data: &[u8]) -> Parts<'_> {
    let mut parts = Vec::new();
    let mut rest = data;
    while parts.len() < 2 {
        match rest.windows(4).position(|w| w == b"\n%%\n") {
            Some(i) => {
                parts.push(&rest[..i + 1]);
                rest = &rest[i + 4..];
            }
            None => break,
        }
    }
    let (clouds, secure, env_text): (&[u8], &[u8], &[u8]) = match parts.as_slice() {
        [] => (rest, b"", b""),
        [c] => (c, rest, b""),
        [c, s, ..] => (c, s, rest),
    };
    let mut env = HashMap::new();
    for line in String::from_utf8_lossy(env_text).lines() {
        if let Some((k, v)) = line.split_once('=') {
            let local = !v.is_empty()
                && v != "."
                && v != ".."
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if k.starts_with("OS_CLIENT_") && !local {
                continue;
            }
            env.insert(k.to_owned(), v.to_owned());
        }
    }
    Parts {
        clouds,
        secure,
        env,
    }
}

fn file_name(base: &str, text: &[u8]) -> String {
    let json = text.trim_ascii_start().first() == Some(&b'{');
    format!("{base}.{}", if json { "json" } else { "yaml" })
}

/// Secrets the input defines, for the leak check: values of secret keys in
/// the files and of secret variables in the environment that are at least 8
/// characters long and occur exactly once in the input (a value that also
/// appears elsewhere, say as a user name, may rightly be printed).
fn secrets(data: &[u8], parts: &Parts<'_>) -> Vec<String> {
    let mut found: Vec<String> = SECRET_VARS
        .iter()
        .filter_map(|v| parts.env.get(*v).cloned())
        .collect();
    for text in [parts.clouds, parts.secure] {
        let Ok(serde_norway::Value::Mapping(root)) = serde_norway::from_slice(text) else {
            continue;
        };
        let Some(serde_norway::Value::Mapping(clouds)) = root.get("clouds") else {
            continue;
        };
        for cloud in clouds.values() {
            let Some(serde_norway::Value::Mapping(auth)) = cloud.get("auth") else {
                continue;
            };
            for key in SECRET_KEYS {
                match auth.get(key) {
                    Some(serde_norway::Value::String(s)) => found.push(s.clone()),
                    Some(serde_norway::Value::Number(n)) => found.push(n.to_string()),
                    _ => {}
                }
            }
        }
    }
    // Counted in the text as the loader sees it: invalid UTF-8 in the
    // environment part becomes U+FFFD there.
    let text = String::from_utf8_lossy(data);
    found
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| s.chars().count() >= 8 && text.matches(s.as_str()).count() <= 1)
        .collect()
}

/// Everything a result shows: the configuration's `Debug`, or the error's
/// message and `Debug`.
fn shown(result: &Result<CloudConfig, otc_auth::Error>) -> String {
    match result {
        Ok(config) => format!("{config:?}"),
        Err(e) => format!("{e}\n{e:?}"),
    }
}

/// A secret found in the output counts as leaked only if it is gone when the
/// same input is loaded with the secret's text replaced: otherwise the text is
/// the crate's own wording (a secret `OS_REGION_NA` is part of every hint
/// that names `OS_REGION_NAME`).
fn assert_hidden(secrets: &[String], data: &[u8], shown_text: &str) {
    for s in secrets.iter().filter(|s| shown_text.contains(s.as_str())) {
        let fill = if s.starts_with('x') { "y" } else { "x" }.repeat(s.chars().count());
        let changed = String::from_utf8_lossy(data).replace(s.as_str(), &fill);
        let again = shown(&load(&split(changed.as_bytes())));
        assert!(
            again.contains(s.as_str()),
            "a secret from the input appears in the output: {shown_text}"
        );
    }
}

/// A fresh, empty directory for one run.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("otc-auth-fuzz-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Loads the cloud an input describes (see the module docs).
pub fn load(parts: &Parts<'_>) -> Result<CloudConfig, otc_auth::Error> {
    let dir = scratch_dir();
    for (base, text) in [("clouds", parts.clouds), ("secure", parts.secure)] {
        if !text.is_empty() {
            std::fs::write(dir.join(file_name(base, text)), text).expect("write the input file");
        }
    }
    let mut opts = LoadOptions::new(&dir, dir.join("no-system-dir"));
    opts.env = parts.env.clone();
    let result = load_cloud(&opts, None);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Runs one input; panics on any violated property.
pub fn run(data: &[u8]) {
    let parts = split(data);
    let result = load(&parts);
    let hidden = secrets(data, &parts);
    if let Err(e) = &result {
        assert!(
            !e.to_string().trim().is_empty(),
            "empty error message: {e:?}"
        );
    }
    assert_hidden(&hidden, data, &shown(&result));
}
