//! A scripted IAM + CTS on one socket: IAM issues a token whose catalog
//! points CTS back at this server, and every trace-list request is answered
//! by a per-test script, which can be switched while the exporter runs.
//!
//! This is a small axum server rather than wiremock: it needs no new
//! dependency, and scripts switch atomically between answers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

pub const PID: &str = "0123456789abcdef0123456789abcdef";
pub const PROJECT: &str = "eu-de_hostile";
pub const CLOUD: &str = "hostile";
pub const PASSWORD: &str = "fake-iam-password";

/// One answer: status, content type, body.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(body: &Value) -> Answer {
        Answer::raw(200, "application/json", body.to_string().into_bytes())
    }

    pub fn raw(status: u16, content_type: &'static str, body: Vec<u8>) -> Answer {
        Answer {
            status,
            content_type,
            body,
        }
    }
}

/// Decides the answer from the query string of a trace-list request.
pub type Script = Arc<dyn Fn(&HashMap<String, String>) -> Answer + Send + Sync>;

struct Inner {
    script: Mutex<Script>,
    requests: Mutex<Vec<HashMap<String, String>>>,
}

pub struct FakeCloud {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeCloud {
    pub async fn start(script: Script) -> FakeCloud {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Inner {
            script: Mutex::new(script),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/v3/auth/tokens", post(token))
            .route("/v3/{pid}/traces", get(traces))
            .with_state((Arc::clone(&inner), addr));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeCloud {
            addr,
            inner,
            server,
        }
    }

    /// Answers from now on with `script`.
    pub fn switch(&self, script: Script) {
        *self.inner.script.lock().expect("lock") = script;
    }

    /// The query strings of the trace-list requests so far.
    pub fn requests(&self) -> Vec<HashMap<String, String>> {
        self.inner.requests.lock().expect("lock").clone()
    }

    /// A clouds.yaml with password credentials for this server.
    pub fn clouds_yaml(&self) -> String {
        format!(
            "clouds:\n  {CLOUD}:\n    auth:\n      auth_url: http://{}/v3\n      username: hostile-user\n      \
             password: {PASSWORD}\n      user_domain_name: OTC-HOSTILE\n      project_name: {PROJECT}\n    \
             region_name: eu-de\n    interface: public\n    identity_api_version: 3\n",
            self.addr
        )
    }
}

impl Drop for FakeCloud {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type St = State<(Arc<Inner>, SocketAddr)>;

async fn token(State((_, addr)): St) -> Response {
    let expires = (chrono::Utc::now() + chrono::Duration::hours(24)).to_rfc3339();
    let body = json!({"token": {
        "expires_at": expires,
        "methods": ["password"],
        "project": {"id": PID, "name": PROJECT, "domain": {"id": "d0", "name": "OTC-HOSTILE"}},
        "user": {"id": "u0", "name": "hostile-user", "domain": {"id": "d0", "name": "OTC-HOSTILE"}},
        "catalog": [{"type": "cts", "name": "cts", "endpoints": [
            {"interface": "public", "region": "eu-de", "region_id": "eu-de",
             "url": format!("http://{addr}/v1.0/{PID}")}]}]
    }});
    let mut r = (StatusCode::CREATED, body.to_string()).into_response();
    r.headers_mut()
        .insert("x-subject-token", HeaderValue::from_static("fake-token"));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

async fn traces(
    State((inner, _)): St,
    Query(q): Query<HashMap<String, String>>,
    _headers: HeaderMap,
) -> Response {
    inner.requests.lock().expect("lock").push(q.clone());
    let script = inner.script.lock().expect("lock").clone();
    let a = script(&q);
    let mut r = (StatusCode::from_u16(a.status).expect("status"), a.body).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(a.content_type));
    r
}

/// When the scripted traces happened: two minutes before the first use.
fn t0() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(|| chrono::Utc::now().timestamp_millis() - 120_000)
}

/// Those of `n` well-formed v3 traces (ids `<prefix>-<i>`, one millisecond
/// apart from [`t0`]) whose time is inside the window of `q`, as CTS would
/// answer.
pub fn traces_in(q: &HashMap<String, String>, prefix: &str, n: usize) -> Vec<Value> {
    let from: i64 = q
        .get("from")
        .and_then(|v| v.parse().ok())
        .unwrap_or(i64::MIN);
    let to: i64 = q.get("to").and_then(|v| v.parse().ok()).unwrap_or(i64::MAX);
    (0..n)
        .map(|i| (i, t0() + i as i64))
        .filter(|(_, t)| from < *t && *t < to)
        .map(|(i, t)| {
            json!({
                "trace_id": format!("{prefix}-{i}"),
                "trace_name": "createServer",
                "trace_rating": "normal",
                "trace_type": "ApiCall",
                "service_type": "ECS",
                "resource_type": "ecs",
                "resource_name": format!("vm-{i}"),
                "resource_id": format!("r-{i}"),
                "user": {"id": "u0", "name": "alice", "domain": {"id": "d0", "name": "OTC-HOSTILE"}},
                "code": "200",
                "time": t,
                "record_time": t,
            })
        })
        .collect()
}

/// A v3 page.
pub fn page(traces: Vec<Value>, marker: Option<&str>) -> Answer {
    let count = traces.len();
    Answer::json(&json!({"traces": traces, "meta_data": {"count": count, "marker": marker}}))
}
