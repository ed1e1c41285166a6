//! Shared test helpers: a counting authorizer, a fake clock, page builders.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cts_client::clock::{Clock, RandomSource};
use cts_client::{CtsClient, CtsClientBuilder, Endpoint, RetryConfig};
use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const PID: &str = "0391e4486e864c26be5654c522f440f2";

/// Sends `X-Auth-Token: tok-<generation>`; `invalidate` bumps the generation.
#[derive(Debug, Default)]
pub struct CountingAuth {
    pub generation: AtomicUsize,
    pub authorized: AtomicUsize,
    pub invalidated: AtomicUsize,
}

#[async_trait::async_trait]
impl otc_auth::RequestAuthorizer for CountingAuth {
    async fn authorize(
        &self,
        _method: &http::Method,
        _url: &url::Url,
        headers: &mut http::HeaderMap,
        _body: &[u8],
    ) -> Result<(), otc_auth::Error> {
        self.authorized.fetch_add(1, Ordering::SeqCst);
        let token = format!("tok-{}", self.generation.load(Ordering::SeqCst) + 1);
        headers.insert(
            "x-auth-token",
            http::HeaderValue::from_str(&token).expect("ascii"),
        );
        Ok(())
    }

    async fn invalidate(&self) {
        self.invalidated.fetch_add(1, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// Records requested sleeps and returns at once.
#[derive(Debug, Default)]
pub struct FakeClock {
    pub slept: Mutex<Vec<Duration>>,
}

impl FakeClock {
    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().expect("lock").clone()
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.slept.lock().expect("lock").push(d);
        Box::pin(async {})
    }
}

/// Always the same draw, so back-off delays are exact.
#[derive(Debug)]
pub struct FixedRandom(pub f64);

impl RandomSource for FixedRandom {
    fn next_unit(&self) -> f64 {
        self.0
    }
}

pub struct Harness {
    pub server: MockServer,
    pub auth: Arc<CountingAuth>,
    pub clock: Arc<FakeClock>,
}

impl Harness {
    pub async fn start() -> Harness {
        Harness {
            server: MockServer::start().await,
            auth: Arc::new(CountingAuth::default()),
            clock: Arc::new(FakeClock::default()),
        }
    }

    /// The catalog URL the way IAM hands it out: `<base>/v1.0/<pid>`.
    pub fn catalog_url(&self) -> String {
        format!("{}/v1.0/{PID}", self.server.uri())
    }

    /// A builder with the fake clock, no jitter, 100 ms doubling back-off, 4 attempts.
    pub fn builder(&self) -> CtsClientBuilder {
        let endpoint = Endpoint::from_catalog_url(&self.catalog_url()).expect("catalog url");
        CtsClient::builder(endpoint, self.auth.clone())
            .clock(self.clock.clone())
            .random_source(Arc::new(FixedRandom(0.0)))
            .retry(RetryConfig {
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
                multiplier: 2.0,
                max_attempts: 4,
                jitter: 0.5,
                max_retry_after: Duration::from_secs(60),
            })
            .request_timeout(Duration::from_secs(5))
    }

    pub fn client(&self) -> CtsClient {
        self.builder().build().expect("client builds")
    }

    pub fn v3_path(&self) -> String {
        format!("/v3/{PID}/traces")
    }

    /// Answers the first request of a walk (`after: None`: no `next` parameter) or the one that follows
    /// marker `after` with 200 and `body`; with `times`, the mock checks on drop that it was asked
    /// exactly that often.
    pub async fn mount_page(&self, after: Option<&str>, body: Value, times: Option<u64>) {
        let mock = Mock::given(method("GET")).and(path(self.v3_path()));
        let mock = match after {
            None => mock.and(query_param_is_missing("next")),
            Some(marker) => mock.and(query_param("next", marker)),
        };
        let mock = mock.respond_with(ResponseTemplate::new(200).set_body_json(body));
        let mock = match times {
            Some(n) => mock.expect(n),
            None => mock,
        };
        mock.mount(&self.server).await;
    }

    pub fn authorized(&self) -> usize {
        self.auth.authorized.load(Ordering::SeqCst)
    }

    pub fn invalidated(&self) -> usize {
        self.auth.invalidated.load(Ordering::SeqCst)
    }
}

/// A minimal trace with a given id.
pub fn trace(id: &str) -> Value {
    json!({
        "trace_id": id, "trace_name": "deleteEip", "trace_rating": "normal", "trace_type": "ApiCall",
        "service_type": "VPC", "resource_type": "eip", "time": 1_700_000_000_000_i64, "code": "200",
        "user": {"name": "alice", "domain": {"id": "d1", "name": "dom"}}
    })
}

/// `{"traces": [...ids], "meta_data": {"count": n, "marker": marker}}`.
pub fn page(ids: &[&str], marker: Option<&str>) -> Value {
    json!({
        "traces": ids.iter().map(|id| trace(id)).collect::<Vec<_>>(),
        "meta_data": {"count": ids.len(), "marker": marker}
    })
}

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// The ids of traces, for comparing streams.
pub fn ids(traces: &[cts_client::Trace]) -> Vec<String> {
    traces
        .iter()
        .map(|t| t.trace_id.clone().unwrap_or_default())
        .collect()
}
