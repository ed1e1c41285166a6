//! End-to-end tests: the built `cts-exporter` binary against the in-process
//! CTS emulator and a real CloudEvents HTTP sink.

mod support;

mod auth;
mod backfill;
mod batch;
mod config_errors;
mod config_parsing;
mod conformance;
mod crash;
mod delivery;
mod non_ascii;
mod polling;
mod roundtrip;
