//! The IAM routes (Keystone v3 subset, cts-api.md §3): password tokens,
//! the service catalog for AK/SK clients, and project lookup by name.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use super::auth::{authenticate, keystone_time, Principal};
use super::errors::{json_response, keystone_error};
use crate::ids::{hex_id, ProjectInfo};
use crate::state::{lock, now_ms, Shared, TokenInfo};

type St = State<Arc<Shared>>;

fn catalog_entry(
    s: &Shared,
    kind: &str,
    name: &str,
    url: String,
    region: &str,
    scope: &str,
) -> Value {
    json!({
        "endpoints": [{
            "id": hex_id(s.cfg.seed, &["endpoint", kind, scope]),
            "interface": "public",
            "region": region,
            "region_id": region,
            "url": url,
        }],
        "id": hex_id(s.cfg.seed, &["service", kind]),
        "name": name,
        "type": kind,
    })
}

/// The catalog for a project: identity, and the CTS endpoints of §3.2.
fn catalog(s: &Shared, project: Option<&ProjectInfo>) -> Value {
    let region = s.region_for(project.map(|p| p.id.as_str()));
    let scope = project.map(|p| p.id.as_str()).unwrap_or("-");
    let mut entries = vec![catalog_entry(
        s,
        "identity",
        "keystone",
        format!("{}/v3", s.base),
        &region,
        scope,
    )];
    if let Some(p) = project {
        entries.push(catalog_entry(
            s,
            "cts",
            "cts",
            format!("{}/v1.0/{}", s.base, p.id),
            &region,
            scope,
        ));
        entries.push(catalog_entry(
            s,
            "ctsv2",
            "ctsv2",
            format!("{}/v2.0/{}", s.base, p.id),
            &region,
            scope,
        ));
        if s.cfg.catalog_ctsv3 {
            entries.push(catalog_entry(
                s,
                "ctsv3",
                "ctsv3",
                format!("{}/v3/{}", s.base, p.id),
                &region,
                scope,
            ));
        }
    }
    Value::Array(entries)
}

fn bad_request(msg: impl Into<String>) -> Response {
    keystone_error(StatusCode::BAD_REQUEST, msg)
}

fn unauthorized(msg: impl Into<String>) -> Response {
    keystone_error(StatusCode::UNAUTHORIZED, msg)
}

/// Does `{"name": ..}` / `{"id": ..}` (if present) name the emulator's domain?
fn domain_matches(s: &Shared, d: &Value) -> bool {
    let name_ok = d
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(|n| n == s.domain.name);
    let id_ok = d
        .get("id")
        .and_then(Value::as_str)
        .is_none_or(|i| i == s.domain.id);
    name_ok && id_ok
}

/// `POST /v3/auth/tokens`: password authentication, scoped to a project
/// (by id, or by name with or without domain), a domain, or nothing.
pub(crate) async fn issue_token(State(s): St, uri: Uri, body: Bytes) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("The request body is not valid JSON: {e}")),
    };
    let Some(identity) = req.pointer("/auth/identity") else {
        return bad_request("Expecting to find auth.identity in the request body.");
    };
    let methods: Vec<&str> = identity
        .get("methods")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !methods.contains(&"password") {
        return unauthorized(format!(
            "The emulator supports the password method only; got methods {methods:?}."
        ));
    }
    let Some(user) = identity.pointer("/password/user") else {
        return bad_request("Expecting to find auth.identity.password.user in the request body.");
    };
    let creds = &s.cfg.credentials;
    let name_ok = match (
        user.get("name").and_then(Value::as_str),
        user.get("id").and_then(Value::as_str),
    ) {
        (Some(n), _) => n == creds.username,
        (None, Some(id)) => id == s.user_id,
        (None, None) => return bad_request("auth.identity.password.user needs a name or an id."),
    };
    let domain_ok = user.get("domain").is_none_or(|d| domain_matches(&s, d));
    let password_ok = user.get("password").and_then(Value::as_str) == Some(creds.password.expose());
    if !(name_ok && domain_ok && password_ok) {
        return unauthorized("The username or password is wrong.");
    }

    let scope = req.pointer("/auth/scope").filter(|v| !v.is_null());
    let project = match scope.and_then(|sc| sc.get("project")) {
        None => None,
        Some(p) => {
            let found = match (
                p.get("id").and_then(Value::as_str),
                p.get("name").and_then(Value::as_str),
            ) {
                (Some(id), _) => s.project(id),
                (None, Some(name)) => s.projects.iter().find(|x| x.info.name == name),
                (None, None) => return bad_request("auth.scope.project needs an id or a name."),
            };
            let in_domain = p.get("domain").is_none_or(|d| domain_matches(&s, d));
            match found {
                Some(x) if in_domain => Some(x.info.clone()),
                _ => {
                    return unauthorized(format!(
                        "Could not find project: {p}. Known projects: {}.",
                        project_names(&s)
                    ))
                }
            }
        }
    };
    if let Some(d) = scope.and_then(|sc| sc.get("domain")) {
        if !domain_matches(&s, d) {
            return unauthorized(format!("Could not find domain: {d}."));
        }
    }

    let now = now_ms();
    let expires = now + s.cfg.token_ttl.as_millis() as i64;
    let token = format!(
        "MIIEmu{:032x}{:032x}",
        rand::random::<u128>(),
        rand::random::<u128>()
    );
    lock(&s.tokens).insert(
        token.clone(),
        TokenInfo {
            project_id: project.as_ref().map(|p| p.id.clone()),
            expires_at_ms: expires,
        },
    );

    let domain = json!({"id": s.domain.id, "name": s.domain.name});
    let mut body = json!({
        "methods": ["password"],
        "expires_at": keystone_time(expires),
        "issued_at": keystone_time(now),
        "user": {"id": s.user_id, "name": creds.username, "password_expires_at": "", "domain": domain},
    });
    if let Some(p) = &project {
        body["project"] = json!({"id": p.id, "name": p.name, "domain": domain});
        body["roles"] =
            json!([{"id": hex_id(s.cfg.seed, &["role", "te_admin"]), "name": "te_admin"}]);
    } else if scope.and_then(|sc| sc.get("domain")).is_some() {
        body["domain"] = domain.clone();
        body["roles"] =
            json!([{"id": hex_id(s.cfg.seed, &["role", "te_admin"]), "name": "te_admin"}]);
    }
    let nocatalog = uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "nocatalog" && !v.is_empty())
    });
    if !nocatalog && (project.is_some() || scope.is_some()) {
        body["catalog"] = catalog(&s, project.as_ref());
    }
    let mut r = json_response(StatusCode::CREATED, json!({"token": body}).to_string());
    if let Ok(v) = HeaderValue::from_str(&token) {
        r.headers_mut().insert("x-subject-token", v);
    }
    r
}

fn project_names(s: &Shared) -> String {
    s.projects
        .iter()
        .map(|p| p.info.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /v3/auth/catalog`: the catalog of the token's project, or of the
/// project in `X-Project-Id` for AK/SK.
pub(crate) async fn get_catalog(
    State(s): St,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let principal = match authenticate(&s, &method, &uri, &headers, b"") {
        Ok(p) => p,
        Err(e) => return e.to_keystone(),
    };
    let project_id =
        match principal {
            Principal::Token { project_id } => project_id,
            Principal::AkSk {
                project_header: Some(p),
                ..
            } => Some(p),
            Principal::AkSk {
                project_header: None,
                domain_header: Some(d),
            } if d == s.domain.id => None,
            Principal::AkSk {
                project_header: None,
                domain_header: Some(d),
            } => {
                return unauthorized(format!(
                    "X-Domain-Id {d} is not the id of this domain ({}).",
                    s.domain.id
                ))
            }
            Principal::AkSk {
                project_header: None,
                domain_header: None,
            } => return bad_request(
                "AK/SK requests for the catalog need the X-Project-Id header naming the project (or X-Domain-Id for the domain's catalog).",
            ),
        };
    let project = match project_id.as_deref().map(|id| s.project(id)) {
        None => None,
        Some(Some(p)) => Some(p.info.clone()),
        Some(None) => {
            return keystone_error(
                StatusCode::NOT_FOUND,
                format!(
                    "Could not find project: {}.",
                    project_id.unwrap_or_default()
                ),
            )
        }
    };
    let body = json!({"catalog": catalog(&s, project.as_ref()), "links": {"self": format!("{}/v3/auth/catalog", s.base)}});
    json_response(StatusCode::OK, body.to_string())
}

/// `GET /v3/projects[?name=...]`: the Keystone project list.
pub(crate) async fn list_projects(
    State(s): St,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authenticate(&s, &method, &uri, &headers, b"") {
        return e.to_keystone();
    }
    let name = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.into_owned())
    });
    let projects: Vec<Value> = s
        .projects
        .iter()
        .filter(|p| name.as_deref().is_none_or(|n| n == p.info.name))
        .map(|p| {
            json!({
                "id": p.info.id,
                "name": p.info.name,
                "domain_id": s.domain.id,
                "enabled": true,
                "is_domain": false,
                "parent_id": s.domain.id,
                "description": "",
                "links": {"self": format!("{}/v3/projects/{}", s.base, p.info.id)},
            })
        })
        .collect();
    let self_link = format!(
        "{}{}",
        s.base,
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/v3/projects")
    );
    let body =
        json!({"projects": projects, "links": {"self": self_link, "previous": null, "next": null}});
    json_response(StatusCode::OK, body.to_string())
}

/// `GET /v3/auth/domains[?name=...]`: the domains the caller may scope to
/// (the single emulated domain), filtered by name as the OTC SDK's AK/SK
/// login asks before it sends `X-Domain-Id`.
pub(crate) async fn list_auth_domains(
    State(s): St,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = authenticate(&s, &method, &uri, &headers, b"") {
        return e.to_keystone();
    }
    let name = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.into_owned())
            .filter(|v| !v.is_empty())
    });
    let domains: Vec<Value> = if name.as_deref().is_none_or(|n| n == s.domain.name) {
        vec![json!({
            "id": s.domain.id,
            "name": s.domain.name,
            "enabled": true,
            "description": "",
            "links": {"self": format!("{}/v3/domains/{}", s.base, s.domain.id)},
        })]
    } else {
        Vec::new()
    };
    let self_link = format!(
        "{}{}",
        s.base,
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/v3/auth/domains")
    );
    let body =
        json!({"domains": domains, "links": {"self": self_link, "previous": null, "next": null}});
    json_response(StatusCode::OK, body.to_string())
}

/// The Keystone description of identity v3, shared by `GET /` and `GET /v3`.
fn v3_version(s: &Shared) -> Value {
    json!({
        "id": "v3.6",
        "status": "stable",
        "updated": "2016-04-04T00:00:00Z",
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
        "links": [{"href": format!("{}/v3/", s.base), "rel": "self"}],
    })
}

/// `GET /`: Keystone's version list (no authentication), so that an
/// `auth_url` without `/v3` is discovered as on OTC's IAM host.
pub(crate) async fn versions(State(s): St) -> Response {
    let body = json!({"versions": {"values": [v3_version(&s)]}});
    json_response(StatusCode::OK, body.to_string())
}

/// `GET /v3`: the Keystone version document (no authentication), for
/// clients that discover the identity version from `auth_url`.
pub(crate) async fn version(State(s): St) -> Response {
    let body = json!({ "version": v3_version(&s) });
    json_response(StatusCode::OK, body.to_string())
}
