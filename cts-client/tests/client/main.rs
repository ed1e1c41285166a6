//! Integration tests of the CTS client against a mock CTS (wiremock).

mod auth;
mod bodies;
mod emulator;
mod errors;
mod event_context;
// The README's path, which bounds the window with a chrono DateTime.
#[cfg(feature = "chrono")]
mod one_call;
mod pagination;
mod support;
mod trackers;
mod urls;
