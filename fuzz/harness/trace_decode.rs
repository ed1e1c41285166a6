//! Harness of the `trace_decode` fuzz target, shared with the replay test
//! `cts-client/tests/fuzz_regressions.rs` (included there with `#[path]`), so a
//! regression file is replayed through exactly the code the fuzzer ran.
//!
//! Input: the body of a CTS trace-list response. When the first byte is an
//! ASCII digit `0`..`5` it selects the `Content-Type` (see [`CONTENT_TYPES`])
//! and the rest is the body; otherwise the whole input is the body, sent as
//! `application/json` (so plain fixture files are valid seeds).
//!
//! Checked: [`cts_client::TracePage::from_body`] (what the client runs on
//! every page) and `serde_json` into [`cts_client::Trace`] (what the sink runs
//! on event data) never panic; errors have a message; every decoded trace
//! survives a serialize/decode round trip unchanged (the exporter serializes
//! traces, the sink decodes them).

use cts_client::{Trace, TracePage};

/// Content types selected by a leading `0`..`5`.
pub const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/json"),
    Some("application/json;charset=UTF-8"),
    Some("text/html; charset=utf-8"),
    Some("text/plain"),
    Some("application/xml"),
];

/// Splits the input into content type and body (see the module docs).
pub fn split(data: &[u8]) -> (Option<&'static str>, &[u8]) {
    match data.split_first() {
        Some((b @ b'0'..=b'5', rest)) => (CONTENT_TYPES[usize::from(b - b'0')], rest),
        _ => (Some("application/json"), data),
    }
}

/// Runs one input; panics on any violated property.
pub fn run(data: &[u8]) {
    let (content_type, body) = split(data);
    match TracePage::from_body(body, content_type) {
        Ok(page) => page.traces.iter().for_each(round_trip),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.trim().is_empty(), "empty error message: {e:?}");
        }
    }
    match serde_json::from_slice::<Trace>(body) {
        Ok(trace) => round_trip(&trace),
        Err(e) => assert!(!e.to_string().trim().is_empty(), "empty error message"),
    }
}

fn round_trip(trace: &Trace) {
    let json = serde_json::to_vec(trace).expect("a decoded trace serializes");
    let back: Trace = serde_json::from_slice(&json).unwrap_or_else(|e| {
        panic!(
            "a serialized trace does not decode again: {e}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    assert_eq!(
        &back, trace,
        "a trace changed in a serialize/decode round trip"
    );
}
