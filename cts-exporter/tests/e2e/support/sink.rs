//! A real CloudEvents HTTP receiver for the tests: it decodes every request
//! with the CloudEvents SDK (binary or structured), records it, and answers
//! what a per-test rule says (202 by default).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use cloudevents::{AttributesReader, Event};

/// What the sink answers to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            retry_after: None,
        }
    }
}

/// Decides the answer from the event id and the 1-based attempt number.
pub type Rule = Arc<dyn Fn(&str, usize) -> Reply + Send + Sync>;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub event: Event,
    pub headers: HeaderMap,
    pub at: Instant,
    pub answered: u16,
}

struct Inner {
    received: Mutex<Vec<Received>>,
    rule: Rule,
}

pub struct TestSink {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    server: tokio::task::JoinHandle<()>,
}

impl TestSink {
    pub async fn start() -> TestSink {
        Self::start_with(Arc::new(|_, _| Reply::status(202))).await
    }

    pub async fn start_with(rule: Rule) -> TestSink {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), rule).await
    }

    pub async fn start_on(addr: SocketAddr, rule: Rule) -> TestSink {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the test sink");
        let addr = listener.local_addr().expect("addr");
        let inner = Arc::new(Inner {
            received: Mutex::new(Vec::new()),
            rule,
        });
        let app = Router::new()
            .route("/", post(receive))
            .with_state(Arc::clone(&inner));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestSink {
            addr,
            inner,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().expect("lock").clone()
    }

    /// Per id, how many requests were answered 2xx.
    pub fn accepted(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for r in self
            .received()
            .iter()
            .filter(|r| (200..300).contains(&r.answered))
        {
            *m.entry(r.event.id().to_string()).or_insert(0) += 1;
        }
        m
    }

    /// Per id, every request received (any answer).
    pub fn attempts(&self) -> HashMap<String, Vec<Received>> {
        let mut m: HashMap<String, Vec<Received>> = HashMap::new();
        for r in self.received() {
            m.entry(r.event.id().to_string()).or_default().push(r);
        }
        m
    }

    /// Waits until `done(self)` holds, panicking with `what` after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&TestSink) -> bool,
    ) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for: {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn stop(self) {
        self.server.abort();
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let event = match cloudevents::binding::http::to_event(&headers, body.to_vec()) {
        Ok(e) => e,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("not a CloudEvent: {e}")).into_response()
        }
    };
    let id = event.id().to_string();
    let reply = {
        let mut received = inner.received.lock().expect("lock");
        let attempt = received.iter().filter(|r| r.event.id() == id).count() + 1;
        let reply = (inner.rule)(&id, attempt);
        received.push(Received {
            event,
            headers,
            at: Instant::now(),
            answered: reply.status,
        });
        reply
    };
    let status = StatusCode::from_u16(reply.status).expect("status");
    let mut resp = (status, "").into_response();
    if let Some(ra) = reply.retry_after {
        resp.headers_mut()
            .insert("retry-after", ra.parse().expect("header"));
    }
    resp
}
