//! The HTTP face of the emulator: one axum [`Router`] serving IAM, CTS and
//! the `/_emulator` control routes over the shared state.

// Handlers return `Response` for every outcome; helpers that may end a
// request early return `Result<_, Response>`, which is fine at this size.
#![allow(clippy::result_large_err)]

mod auth;
mod control;
mod cts;
mod errors;
mod iam;
mod query;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;

use crate::state::Shared;

/// The complete router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(iam::versions))
        .route("/v3", get(iam::version))
        .route("/v3/", get(iam::version))
        .route("/v3/auth/tokens", post(iam::issue_token))
        .route("/v3/auth/catalog", get(iam::get_catalog))
        .route("/v3/auth/domains", get(iam::list_auth_domains))
        .route("/v3/projects", get(iam::list_projects))
        .route("/v1.0/{pid}/{tracker}/trace", get(cts::list_v1))
        .route("/v2.0/{pid}/{tracker}/trace", get(cts::list_v2))
        .route("/v3/{pid}/traces", get(cts::list_v3))
        .route("/v3/{pid}/trackers", get(cts::trackers_v3))
        .route("/v1.0/{pid}/tracker", get(cts::tracker_v1))
        .route("/_emulator/truth", get(control::truth))
        .fallback(|uri: axum::http::Uri| async move {
            errors::cts_error(
                StatusCode::NOT_FOUND,
                "APIG.0101",
                format!(
                    "The API does not exist or has not been published: {}",
                    uri.path()
                ),
            )
        })
        .with_state(shared)
}
