//! docs/configuration.md must document every setting the binary has.
//!
//! The settings are read from the real binary's `--help` (and `backfill --help`), where clap prints each
//! option's flag, `[env: NAME=]` and `[default: …]`. Each must have a table row in the `## cts-exporter`
//! section of the page naming its variable and flag, and its default when it has one. The reverse holds
//! too: a variable in the first column of a table there that the binary does not know is stale.

use std::collections::BTreeSet;
use std::process::Command;

const PAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/configuration.md");
const SECTION: &str = "## cts-exporter";

/// One option as `--help` shows it.
#[derive(Debug)]
struct Setting {
    flag: String,
    env: Option<String>,
    default: Option<String>,
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cts-exporter"))
        .args(args)
        .env_clear()
        .output()
        .expect("run cts-exporter");
    assert!(
        out.status.success(),
        "cts-exporter {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// The options of one help text, `--help` and `--version` left out.
fn settings(help: &str) -> Vec<Setting> {
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
fn section() -> String {
    let page = std::fs::read_to_string(PAGE).expect("read docs/configuration.md");
    let start = page
        .lines()
        .position(|l| l.trim_end() == SECTION)
        .unwrap_or_else(|| panic!("docs/configuration.md has no `{SECTION}` heading"));
    page.lines()
        .skip(start + 1)
        .take_while(|l| !l.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n")
}

fn rows(section: &str) -> Vec<&str> {
    section.lines().filter(|l| l.starts_with('|')).collect()
}

/// Problems of `settings` against the table rows: each a line of the failure message.
fn gaps(settings: &[Setting], rows: &[&str]) -> Vec<String> {
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
fn documented_variables(rows: &[&str]) -> BTreeSet<String> {
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

#[test]
fn every_setting_of_the_binary_is_documented() {
    let mut all = settings(&help(&["--help"]));
    assert!(
        all.len() >= 20 && all.iter().any(|s| s.env.as_deref() == Some("CTS_FROM")),
        "the help parser found too little, the help format may have changed: {all:?}"
    );
    let backfill = settings(&help(&["backfill", "--help"]));
    assert!(
        backfill.iter().any(|s| s.flag == "--since"),
        "backfill --help: {backfill:?}"
    );
    all.extend(backfill);
    let mut seen = BTreeSet::new();
    all.retain(|s| seen.insert(s.flag.clone()));
    let section = section();
    let rows = rows(&section);
    let gaps = gaps(&all, &rows);
    assert!(
        gaps.is_empty(),
        "docs/configuration.md, section `{SECTION}`, misses settings of cts-exporter:\n  {}",
        gaps.join("\n  ")
    );
    let known: BTreeSet<String> = all.iter().filter_map(|s| s.env.clone()).collect();
    let stale: Vec<_> = documented_variables(&rows)
        .into_iter()
        .filter(|v| !known.contains(v))
        .collect();
    assert!(
        stale.is_empty(),
        "docs/configuration.md, section `{SECTION}`, documents variables cts-exporter does not read: {stale:?}"
    );
}

#[test]
fn the_check_finds_a_missing_row_a_wrong_default_and_reads_wrapped_help() {
    let help = "Usage: x\n\nOptions:\n      --port <PORT>\n          Port\n          [env: PORT=9]\n          \
                [default: 8080]\n      --write-concurrency <N>\n          How many [env:\n          \
                WRITE_CONCURRENCY=] [default: 2]\n  -f, --format <F>\n          How\n\n          \
                Possible values:\n          - table: Columns\n          \n          [default: table]\n      \
                --list\n          List\n  -h, --help\n          Help\n";
    let parsed = settings(help);
    assert_eq!(parsed.len(), 4, "{parsed:?}");
    assert_eq!(parsed[2].flag, "--format");
    assert_eq!(
        parsed[2].default.as_deref(),
        Some("table"),
        "a value list does not end the option"
    );
    assert_eq!(parsed[1].env.as_deref(), Some("WRITE_CONCURRENCY"));
    assert_eq!(parsed[1].default.as_deref(), Some("2"));
    let rows = [
        "| `PORT` | `--port` | `8080` | listen port |",
        "| `WRITE_CONCURRENCY` | `--write-concurrency` | `4` | transactions |",
    ];
    let found = gaps(&parsed, &rows);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains("default `2`"), "{found:?}");
    assert!(found[1].contains("`--format`"), "{found:?}");
    assert!(found[2].contains("`--list`"), "{found:?}");
    assert_eq!(
        documented_variables(&rows),
        BTreeSet::from(["PORT".to_string(), "WRITE_CONCURRENCY".to_string()])
    );
}
