//! Replays every input under `fuzz/regressions/cloudevent_decode/` (crashes the fuzzer found,
//! plus a few seeds) through the harness of the `cloudevent_decode` fuzz target, on stable
//! with plain `cargo test`. The harness is the fuzz target's own code, included
//! here, so a fixed crash stays fixed. docs/fuzzing.md describes the targets.

#[path = "../../fuzz/harness/cloudevent_decode.rs"]
mod harness;

use std::path::PathBuf;

fn inputs() -> Vec<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/cloudevent_decode");
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

/// The harness turns its text form into the request the sink would see: the
/// batch seed holds one good event and three refused ones.
#[test]
fn the_harness_input_format_reaches_the_decoder() {
    let data = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/regressions/cloudevent_decode/seed-batch"),
    )
    .expect("seed");
    let decoded = harness::decode_request(&data).expect("a batch");
    let codes: Vec<Option<&str>> = decoded
        .events
        .iter()
        .map(|e| e.as_ref().err().map(|r| r.reason.error))
        .collect();
    assert_eq!(
        codes,
        [
            None,
            Some("unsupported_specversion"),
            None,
            Some("not_a_cloudevent")
        ]
    );
    let data = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/regressions/cloudevent_decode/seed-binary"),
    )
    .expect("seed");
    let decoded = harness::decode_request(&data).expect("a binary event");
    let event = decoded.events[0].as_ref().expect("accepted");
    assert_eq!(event.key.trace_id, "t-1");
    assert_eq!(event.record.context.region, "eu-de");
}
