//! Replays every input under `fuzz/regressions/trace_decode/` (crashes the fuzzer found,
//! plus a few seeds) through the harness of the `trace_decode` fuzz target, on stable
//! with plain `cargo test`. The harness is the fuzz target's own code, included
//! here, so a fixed crash stays fixed. docs/fuzzing.md describes the targets.

#[path = "../../fuzz/harness/trace_decode.rs"]
mod harness;

use std::path::PathBuf;

fn inputs() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/trace_decode");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_regression_input_is_handled_without_panic() {
    let files = inputs();
    assert!(!files.is_empty(), "no regression inputs found");
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read a regression input");
        if std::panic::catch_unwind(|| harness::run(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "inputs that still fail: {failed:#?}");
}

/// A leading digit selects the content type; other inputs are JSON bodies.
#[test]
fn the_harness_input_format_reaches_the_decoder() {
    let (ct, body) = harness::split(b"3<html>bad gateway</html>");
    let err = cts_client::TracePage::from_body(body, ct).expect_err("HTML");
    assert!(err.to_string().contains("text/html"), "{err}");
    let data = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/regressions/trace_decode/seed-v3-page.json"),
    )
    .expect("seed");
    let (ct, body) = harness::split(&data);
    assert_eq!(ct, Some("application/json"));
    let page = cts_client::TracePage::from_body(body, ct).expect("the documented page");
    assert!(!page.traces.is_empty());
}
