//! docs/configuration.md must document every setting of cts-exporter; the check itself lives once, in
//! neo4j-sink/tests/support/config_docs_check.rs.

#[path = "../../neo4j-sink/tests/support/config_docs_check.rs"]
mod check;

use check::Binary;

#[test]
fn every_setting_of_the_binary_is_documented() {
    let bin = Binary {
        name: "cts-exporter",
        path: env!("CARGO_BIN_EXE_cts-exporter"),
        section: "## cts-exporter",
    };
    check::check(&bin, "CTS_FROM", "backfill", "--since");
}
