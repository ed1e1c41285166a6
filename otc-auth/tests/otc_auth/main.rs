//! Integration tests of otc-auth: configuration loading, the IAM flows against wiremock, and the
//! guarantee that secrets never leak.

mod aksk;
mod common;
mod config;
mod config_rules;
mod go_sdk;
mod parse_errors;
mod password;
mod secrets;
mod signing_form;
