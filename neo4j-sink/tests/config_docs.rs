//! docs/configuration.md must document every setting of neo4j-sink (see `support/config_docs_check.rs`).

#[path = "support/config_docs_check.rs"]
mod check;

use check::{documented_variables, gaps, settings, Binary};
use std::collections::BTreeSet;

#[test]
fn every_setting_of_the_binary_is_documented() {
    let bin = Binary {
        name: "neo4j-sink",
        path: env!("CARGO_BIN_EXE_neo4j-sink"),
        section: "## neo4j-sink",
    };
    check::check_all(
        &bin,
        "NEO4J_URI",
        &[("query", "--list"), ("detect", "--detect-interval")],
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
