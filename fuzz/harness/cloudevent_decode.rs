//! Harness of the `cloudevent_decode` fuzz target, shared with the replay test
//! `neo4j-sink/tests/fuzz_regressions.rs` (included there with `#[path]`), so a
//! regression file is replayed through exactly the code the fuzzer ran.
//!
//! Input: an HTTP request head and body in text form. Lines `name: value`
//! up to the first empty line are headers (lines that are no valid header are
//! skipped, as no HTTP server would pass them on); everything after the empty
//! line is the body. Without an empty line there is no body.
//!
//! Checked, in the order the sink's `POST /` runs them:
//! [`neo4j_sink::decode::content_mode`], [`neo4j_sink::decode::decode`] (which
//! includes the event rules), then `trace_graph::map_trace` (validation into
//! the graph row) for every accepted event. None may panic, and every refusal
//! must carry a machine-readable code and a non-empty explanation.

use http::{HeaderMap, HeaderName, HeaderValue};
use neo4j_sink::decode::{content_mode, decode, Decoded};
use neo4j_sink::event::EventRules;
use neo4j_sink::problem::Problem;

/// Splits the input into headers and body (see the module docs).
pub fn parse_request(data: &[u8]) -> (HeaderMap, &[u8]) {
    let (head, body) = match find(data, b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &data[data.len()..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let value = line[colon + 1..].trim_ascii();
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(line[..colon].trim_ascii()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(n, v);
        }
    }
    (headers, body)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn check_problem(p: &Problem) {
    assert!(!p.error.is_empty(), "problem without a code: {p:?}");
    assert!(!p.detail.trim().is_empty(), "problem without detail: {p:?}");
    assert!(
        p.status.is_client_error(),
        "a bad request must be a 4xx: {p:?}"
    );
}

/// Decodes a request the way the sink's `POST /` does, up to the store.
pub fn decode_request(data: &[u8]) -> Result<Decoded, Problem> {
    let (headers, body) = parse_request(data);
    // The sink's default: every type, the context derived when missing.
    let rules = EventRules {
        accepted_type_prefixes: Vec::new(),
    };
    let mode = content_mode(&headers)?;
    decode(mode, &headers, body, &rules)
}

/// Runs one input; panics on any violated property.
pub fn run(data: &[u8]) {
    let decoded = match decode_request(data) {
        Ok(d) => d,
        Err(p) => return check_problem(&p),
    };
    for event in decoded.events {
        match event {
            Ok(e) => {
                assert!(
                    !e.key.trace_id.trim().is_empty(),
                    "accepted without a trace id"
                );
                if let Err(row) = trace_graph::map_trace(&e.record.trace, &e.record.context) {
                    assert!(
                        !row.to_string().trim().is_empty(),
                        "empty row error: {row:?}"
                    );
                }
            }
            Err(r) => {
                assert!(!r.reason.error.is_empty(), "refusal without a code: {r:?}");
                assert!(
                    !r.reason.detail.trim().is_empty(),
                    "refusal without detail: {r:?}"
                );
            }
        }
    }
}
