//! Replays every input under `fuzz/regressions/trace_decode/` (crashes the fuzzer found,
//! plus a few seeds) through the harness of the `trace_decode` fuzz target, on stable
//! with plain `cargo test`. The harness is the fuzz target's own code, included
//! here, so a fixed crash stays fixed. The repository's docs/fuzzing.md describes the targets.

#[path = "../../fuzz/harness/trace_decode.rs"]
mod harness;

#[path = "../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn every_regression_input_is_handled_without_panic() {
    replay::replay_all(env!("CARGO_MANIFEST_DIR"), "trace_decode", harness::run);
}

/// A leading digit selects the content type; other inputs are JSON bodies.
#[test]
fn the_harness_input_format_reaches_the_decoder() {
    let (ct, body) = harness::split(b"3<html>bad gateway</html>");
    let err = cts_client::TracePage::from_body(body, ct).expect_err("HTML");
    assert!(err.to_string().contains("text/html"), "{err}");
    let data = replay::read_input(
        env!("CARGO_MANIFEST_DIR"),
        "trace_decode",
        "seed-v3-page.json",
    );
    let (ct, body) = harness::split(&data);
    assert_eq!(ct, Some("application/json"));
    let page = cts_client::TracePage::from_body(body, ct).expect("the documented page");
    assert!(!page.traces.is_empty());
}
