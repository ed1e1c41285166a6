//! Shared by the `config_docs` tests of neo4j-sink and cts-exporter: docs/configuration.md must document
//! every setting a binary has.
//!
//! The settings are read from the real binary's `--help` (and one subcommand's help), where clap prints
//! each option's flag, `[env: NAME=]` and `[default: …]`. Each must have a table row in the binary's
//! section of the page naming its variable and flag, and its default when it has one. The reverse holds
//! too: a variable in the first column of a table there that the binary does not know is stale.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::process::Command;

const PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");

/// One option as `--help` shows it.
#[derive(Debug)]
pub struct Setting {
    pub flag: String,
    pub env: Option<String>,
    pub default: Option<String>,
}

pub fn help(bin: &Binary, args: &[&str]) -> String {
    let out = Command::new(bin.path)
        .args(args)
        .env_clear()
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.name));
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        bin.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// The options of one help text, `--help` and `--version` left out.
pub fn settings(help: &str) -> Vec<Setting> {
    let mut blocks: Vec<String> = Vec::new();
    let mut in_options = false;
    for line in help.lines() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            in_options = trimmed.starts_with("Options:");
            continue;
        }
        if !in_options {
            continue;
        }
        if is_option_line(trimmed) {
            blocks.push(trimmed.to_string());
        } else if let Some(last) = blocks.last_mut() {
            last.push(' ');
            last.push_str(trimmed);
        }
    }
    blocks
        .iter()
        .map(|b| b.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter_map(|b| {
            let flag = b
                .split([' ', ','])
                .find(|w| w.starts_with("--"))?
                .to_string();
            if flag == "--help" || flag == "--version" {
                return None;
            }
            Some(Setting {
                env: bracket(&b, "[env: ").map(|v| v.split('=').next().unwrap_or("").to_string()),
                default: bracket(&b, "[default: ").filter(|d| !d.is_empty() && d != "\"\""),
                flag,
            })
        })
        .collect()
}

/// `--flag …` or `-f, --flag …`; not a `- value: meaning` line of a value list.
fn is_option_line(line: &str) -> bool {
    let b = line.as_bytes();
    line.starts_with("--")
        || (b.len() > 4
            && b[0] == b'-'
            && b[1].is_ascii_alphanumeric()
            && line[2..].starts_with(", --"))
}

/// The text after `open` up to the closing `]`.
fn bracket(text: &str, open: &str) -> Option<String> {
    let rest = &text[text.find(open)? + open.len()..];
    Some(rest[..rest.find(']')?].to_string())
}

/// The page's section for this binary: from its `## ` heading to the next one.
fn section(heading: &str) -> String {
    let page = std::fs::read_to_string(PAGE).expect("read docs/configuration.md");
    let start = page
        .lines()
        .position(|l| l.trim_end() == heading)
        .unwrap_or_else(|| panic!("docs/configuration.md has no `{heading}` heading"));
    page.lines()
        .skip(start + 1)
        .take_while(|l| !l.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn rows(section: &str) -> Vec<&str> {
    section.lines().filter(|l| l.starts_with('|')).collect()
}

/// Problems of `settings` against the table rows: each a line of the failure message.
pub fn gaps(settings: &[Setting], rows: &[&str]) -> Vec<String> {
    let mut gaps = Vec::new();
    for s in settings {
        let mut wanted = vec![format!("`{}`", s.flag)];
        if let Some(env) = &s.env {
            wanted.push(format!("`{env}`"));
        }
        let row = rows
            .iter()
            .find(|r| wanted.iter().all(|w| r.contains(w.as_str())));
        match (row, &s.default) {
            (None, _) => gaps.push(format!(
                "no table row names {}; add a row: | {} | {} | default | meaning |",
                wanted.join(" and "),
                s.env
                    .as_deref()
                    .map_or("–".to_string(), |e| format!("`{e}`")),
                wanted[0]
            )),
            (Some(row), Some(default)) if !row.contains(&format!("`{default}`")) => {
                gaps.push(format!(
                    "the row of {} does not give the default `{default}`: {row}",
                    wanted[0]
                ))
            }
            _ => {}
        }
    }
    gaps
}

/// Upper-case names in backticks in the first column of the rows.
pub fn documented_variables(rows: &[&str]) -> BTreeSet<String> {
    rows.iter()
        .filter_map(|r| r.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .filter(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_string)
        .collect()
}

/// The binary under test and its section of docs/configuration.md.
#[derive(Debug)]
pub struct Binary {
    /// Name used in messages.
    pub name: &'static str,
    /// Path of the built binary (`env!("CARGO_BIN_EXE_...")`).
    pub path: &'static str,
    /// The heading of its section, e.g. `## neo4j-sink`.
    pub section: &'static str,
}

/// Every option of `--help` and of the subcommand's help must have a row in the binary's section, with its
/// default; every variable in the section must be one the binary reads.
pub fn check(bin: &Binary, anchor_env: &str, subcommand: &str, subcommand_flag: &str) {
    check_all(bin, anchor_env, &[(subcommand, subcommand_flag)]);
}

/// [`check`] for a binary with several subcommands, each `(name, a flag it must have)`.
pub fn check_all(bin: &Binary, anchor_env: &str, subcommands: &[(&str, &str)]) {
    let mut all = settings(&help(bin, &["--help"]));
    assert!(
        all.len() >= 20 && all.iter().any(|s| s.env.as_deref() == Some(anchor_env)),
        "the help parser found too little, the help format may have changed: {all:?}"
    );
    for (subcommand, subcommand_flag) in subcommands {
        let sub = settings(&help(bin, &[subcommand, "--help"]));
        assert!(
            sub.iter().any(|s| s.flag == *subcommand_flag),
            "{subcommand} --help: {sub:?}"
        );
        all.extend(sub);
    }
    let mut seen = BTreeSet::new();
    all.retain(|s| seen.insert(s.flag.clone()));
    let section = section(bin.section);
    let rows = rows(&section);
    let gaps = gaps(&all, &rows);
    assert!(
        gaps.is_empty(),
        "docs/configuration.md, section `{}`, misses settings of {}:\n  {}",
        bin.section,
        bin.name,
        gaps.join("\n  ")
    );
    let known: BTreeSet<String> = all.iter().filter_map(|s| s.env.clone()).collect();
    let stale: Vec<_> = documented_variables(&rows)
        .into_iter()
        .filter(|v| !known.contains(v))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/configuration.md, section `{}`, documents variables {} does not read: {stale:?}",
        bin.section,
        bin.name
    );
}
