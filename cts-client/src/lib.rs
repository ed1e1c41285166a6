//! Typed client for the Open Telekom Cloud Cloud Trace Service (CTS).
//!
//! The [`Trace`] model is always available; the HTTP client (feature
//! `client`, on by default) adds the trace-list and tracker APIs.
#![deny(missing_docs)]

pub mod trace;

pub use trace::{DomainInfo, Trace, TraceRating, UserInfo};
