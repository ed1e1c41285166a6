//! Fuzz target `cloudevent_decode`: see harness/cloudevent_decode.rs (shared with the replay test) and docs/fuzzing.md.
#![no_main]

#[path = "../harness/cloudevent_decode.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
