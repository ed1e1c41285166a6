//! Integration tests of the CTS client against a mock CTS (wiremock).

mod auth;
mod bodies;
mod emulator;
mod errors;
mod event_context;
mod one_call;
mod pagination;
mod support;
mod trackers;
mod urls;
