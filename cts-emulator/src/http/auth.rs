//! Who is calling: an `X-Auth-Token` issued by the emulator's IAM, or an
//! AK/SK signature (variants A and B) over the request. Routes turn the
//! outcome into their own error style (API Gateway for CTS, Keystone for IAM).

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Utc};

use super::errors::{apig_error, cts_error, keystone_error};
use crate::aksk::{self, AkskError, SignedRequest};
use crate::state::{lock, now_ms, Shared};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// A token, scoped to a project or not.
    Token { project_id: Option<String> },
    /// A signed request; `X-Project-Id` and `X-Domain-Id` if the client
    /// sent them (the OTC SDK sends `X-Domain-Id` instead of `X-Project-Id`
    /// once it has looked the domain up by name).
    AkSk {
        project_header: Option<String>,
        domain_header: Option<String>,
    },
}

/// Why authentication failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthError {
    Missing,
    UnknownToken,
    Expired(String),
    Signature(AkskError),
}

impl AuthError {
    fn message(&self) -> String {
        match self {
            AuthError::Missing => {
                "Incorrect IAM authentication information: x-auth-token not found".to_owned()
            }
            AuthError::UnknownToken => {
                "Incorrect IAM authentication information: decrypt token fail".to_owned()
            }
            AuthError::Expired(at) => {
                format!("Incorrect IAM authentication information: token expires, expires_at: {at}")
            }
            AuthError::Signature(e) => e.to_string(),
        }
    }

    /// The API Gateway answer (CTS routes). Status 401 is the conventional
    /// choice; the real status is \[UNKNOWN\] (cts-api.md §1.7).
    pub fn to_apig(&self) -> Response {
        let code = match self {
            AuthError::Signature(AkskError::Expired { .. }) => "APIG.0303",
            _ => "APIG.0301",
        };
        apig_error(StatusCode::UNAUTHORIZED, code, self.message())
    }

    /// The Keystone answer (IAM routes).
    pub fn to_keystone(&self) -> Response {
        keystone_error(StatusCode::UNAUTHORIZED, self.message())
    }
}

/// Formats epoch milliseconds as Keystone does: 6 fractional digits and `Z`.
pub(crate) fn keystone_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Authenticates a request by signature (if `Authorization` claims one) or token.
pub(crate) fn authenticate(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Principal, AuthError> {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    if authorization.is_some_and(aksk::is_sdk_signature) {
        let req = SignedRequest {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            headers,
            authority: uri.authority().map(|a| a.as_str()),
            body,
        };
        let creds = &shared.cfg.credentials;
        let secret_for = |ak: &str| (ak == creds.ak).then(|| creds.sk.expose().to_owned());
        aksk::verify(&req, secret_for, Utc::now()).map_err(AuthError::Signature)?;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        return Ok(Principal::AkSk {
            project_header: header("x-project-id"),
            domain_header: header("x-domain-id"),
        });
    }
    let token = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .ok_or(AuthError::Missing)?;
    let info = lock(&shared.tokens)
        .get(token)
        .cloned()
        .ok_or(AuthError::UnknownToken)?;
    if info.expires_at_ms <= now_ms() {
        return Err(AuthError::Expired(keystone_time(info.expires_at_ms)));
    }
    Ok(Principal::Token {
        project_id: info.project_id,
    })
}

/// Checks that the caller may act on project `pid` (the path's project).
pub(crate) fn check_project(
    shared: &Shared,
    principal: &Principal,
    pid: &str,
) -> Result<(), Response> {
    let forbidden = |why: String| {
        cts_error(
            StatusCode::FORBIDDEN,
            "CTS.0002",
            format!("Authentication failed or you do not have the permissions required: {why}"),
        )
    };
    let scoped = match principal {
        Principal::Token { project_id: None } => {
            return Err(forbidden("the token is not scoped to a project".into()))
        }
        Principal::Token {
            project_id: Some(p),
        } => Some(p),
        Principal::AkSk {
            project_header,
            domain_header,
        } => {
            if let Some(d) = domain_header.as_ref().filter(|d| **d != shared.domain.id) {
                return Err(forbidden(format!(
                    "X-Domain-Id {d} is not the id of this domain ({})",
                    shared.domain.id
                )));
            }
            project_header.as_ref()
        }
    };
    if let Some(p) = scoped {
        if p != pid {
            return Err(forbidden(format!(
                "the credentials are scoped to project {p}, the path names project {pid}"
            )));
        }
    }
    if shared.project(pid).is_none() {
        return Err(forbidden(format!(
            "project {pid} does not exist in this domain"
        )));
    }
    Ok(())
}
