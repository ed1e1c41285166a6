//! Replays every input under `fuzz/regressions/cloudevent_decode/` (crashes the fuzzer found,
//! plus a few seeds) through the harness of the `cloudevent_decode` fuzz target, on stable
//! with plain `cargo test`. The harness is the fuzz target's own code, included
//! here, so a fixed crash stays fixed. docs/fuzzing.md describes the targets.

#[path = "../../fuzz/harness/cloudevent_decode.rs"]
mod harness;

#[path = "../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn every_regression_input_is_handled_without_panic() {
    replay::replay_all(
        env!("CARGO_MANIFEST_DIR"),
        "cloudevent_decode",
        harness::run,
    );
}

/// The harness turns its text form into the request the sink would see: the
/// batch seed holds one good event and three refused ones.
#[test]
fn the_harness_input_format_reaches_the_decoder() {
    let data = replay::read_input(
        env!("CARGO_MANIFEST_DIR"),
        "cloudevent_decode",
        "seed-batch",
    );
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
    let data = replay::read_input(
        env!("CARGO_MANIFEST_DIR"),
        "cloudevent_decode",
        "seed-binary",
    );
    let decoded = harness::decode_request(&data).expect("a binary event");
    let event = decoded.events[0].as_ref().expect("accepted");
    assert_eq!(event.key.trace_id, "t-1");
    assert_eq!(event.record.context.region, "eu-de");

    // The original exporter's shape with raw and percent-encoded UTF-8 headers.
    let data = replay::read_input(
        env!("CARGO_MANIFEST_DIR"),
        "cloudevent_decode",
        "seed-binary-original-utf8",
    );
    let decoded = harness::decode_request(&data).expect("a binary event");
    let event = decoded.events[0].as_ref().expect("accepted");
    assert_eq!(event.key.id, "t-2 \u{540d}");
    assert_eq!(
        event.record.context.project_id,
        "1a4d5e5fc6a77416f1a992ac2fe57409"
    );
    assert_eq!(event.record.context.region, "eu-de");
}
