//! Hostile input for the built `cts-exporter` binary: CTS answers that are
//! not what CTS documents (from a scripted IAM + CTS), and malformed
//! settings. Each gives a clear error and the documented exit code (78 for
//! configuration, 70 at run time) or a retry, never a panic.
//!
//! Cases already covered by `tests/e2e/config_errors.rs` (K_CE_OVERRIDES
//! that is not JSON or has an upper-case name, K_SINK empty or not a URL, no
//! clouds.yaml, a cloud without password, an unknown cloud, a corrupt state
//! file, a rejected password) are not repeated here.

#[path = "../e2e/support/mod.rs"]
mod support;

mod config;
mod cts;
mod fake;
