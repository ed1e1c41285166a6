//! Fuzz target `clouds_yaml`: see harness/clouds_yaml.rs (shared with the replay test) and docs/fuzzing.md.
#![no_main]

#[path = "../harness/clouds_yaml.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(data));
