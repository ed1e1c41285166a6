//! The password flow against a wiremock IAM: issue, cache, refresh, single flight, errors.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use http::{HeaderMap, Method};
use otc_auth::{
    AuthProvider, Clock, CloudConfig, Credentials, DomainRef, Error, ProviderOptions,
    RequestAuthorizer, Secret, UserRef,
};
use serde_json::json;
use url::Url;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::common::{t0, token_body, ManualClock, DOMAIN_ID, PROJECT_ID};

pub const PASSWORD: &str = "pw-Sup3r-Secret!";

/// Issues `tok-1`, `tok-2`, ... each valid for `lifetime` from the clock's now.
pub struct TokenIssuer {
    pub count: Arc<AtomicUsize>,
    pub clock: Arc<ManualClock>,
    pub lifetime: Duration,
    pub base: String,
    pub delay: StdDuration,
}

impl Respond for TokenIssuer {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(201)
            .insert_header("X-Subject-Token", format!("tok-{n}").as_str())
            .set_body_json(token_body(&self.base, self.clock.now() + self.lifetime))
            .set_delay(self.delay)
    }
}

pub fn password_config(server: &MockServer) -> CloudConfig {
    let mut c = CloudConfig::new(
        "test",
        Url::parse(&format!("{}/v3", server.uri())).expect("url"),
        "eu-de",
        Credentials::Password {
            user: UserRef::Name {
                name: "alice".into(),
                domain: DomainRef::Name("OTC00000000001000000001".into()),
            },
            password: Secret::new(PASSWORD),
        },
    );
    c.project_name = Some("eu-de_analytics".into());
    c.project_domain = Some(DomainRef::Name("OTC00000000001000000001".into()));
    c
}

/// Mounts a counting token endpoint; returns the counter and the clock.
pub async fn mount_issuer(
    server: &MockServer,
    lifetime: Duration,
    delay: StdDuration,
) -> (Arc<AtomicUsize>, Arc<ManualClock>) {
    let count = Arc::new(AtomicUsize::new(0));
    let clock = ManualClock::at(t0());
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(body_partial_json(json!({"auth":{
            "identity":{"methods":["password"],"password":{"user":{"name":"alice","password":PASSWORD,"domain":{"name":"OTC00000000001000000001"}}}},
            "scope":{"project":{"name":"eu-de_analytics","domain":{"name":"OTC00000000001000000001"}}}}})))
        .respond_with(TokenIssuer { count: count.clone(), clock: clock.clone(), lifetime, base: server.uri(), delay })
        .mount(server)
        .await;
    (count, clock)
}

pub fn provider(config: CloudConfig, clock: Arc<ManualClock>) -> AuthProvider {
    AuthProvider::with_options(
        config,
        ProviderOptions {
            refresh_margin: StdDuration::from_secs(300),
            clock,
            ..ProviderOptions::default()
        },
    )
    .expect("provider")
}

async fn token_of(p: &AuthProvider) -> String {
    let mut h = HeaderMap::new();
    let url = Url::parse("https://cts.example/v3/x/traces").expect("url");
    p.authorize(&Method::GET, &url, &mut h, b"")
        .await
        .expect("authorize");
    h.get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .expect("X-Auth-Token")
        .to_owned()
}

#[tokio::test]
async fn issues_a_token_and_exposes_project_domain_and_endpoints() {
    let server = MockServer::start().await;
    let (count, clock) = mount_issuer(&server, Duration::hours(24), StdDuration::ZERO).await;
    let p = provider(password_config(&server), clock);
    assert_eq!(token_of(&p).await, "tok-1");
    assert_eq!(p.project_id().await.expect("pid"), PROJECT_ID);
    assert_eq!(
        p.domain_id().await.expect("did").as_deref(),
        Some(DOMAIN_ID)
    );
    assert_eq!(p.region(), "eu-de");
    let cts = p.endpoint("cts").await.expect("cts");
    assert_eq!(cts.as_str(), format!("{}/v1.0/{PROJECT_ID}/", server.uri()));
    let v2 = p.endpoint("ctsv2").await.expect("ctsv2");
    assert_eq!(v2.as_str(), format!("{}/v2.0/{PROJECT_ID}/", server.uri()));
    let err = p.endpoint("ctsv3").await.expect_err("absent");
    assert!(matches!(err, Error::EndpointNotFound { .. }), "{err:?}");
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "everything above came from one token"
    );

    let req = &server.received_requests().await.expect("recorded")[0];
    assert_eq!(
        req.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json;charset=utf8")
    );
}

#[tokio::test]
async fn token_is_cached_then_refreshed_before_expiry() {
    let server = MockServer::start().await;
    let (count, clock) = mount_issuer(&server, Duration::hours(1), StdDuration::ZERO).await;
    let p = provider(password_config(&server), clock.clone());
    assert_eq!(token_of(&p).await, "tok-1");
    clock.advance(Duration::minutes(54));
    assert_eq!(
        token_of(&p).await,
        "tok-1",
        "still outside the 5 minute margin"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    clock.advance(Duration::minutes(2)); // 4 minutes before expiry: inside the margin
    assert_eq!(token_of(&p).await, "tok-2");
    assert_eq!(token_of(&p).await, "tok-2");
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn short_lived_tokens_use_half_their_lifetime_as_margin() {
    let server = MockServer::start().await;
    let (count, clock) = mount_issuer(&server, Duration::minutes(4), StdDuration::ZERO).await;
    let p = provider(password_config(&server), clock.clone());
    assert_eq!(token_of(&p).await, "tok-1");
    clock.advance(Duration::seconds(100));
    assert_eq!(
        token_of(&p).await,
        "tok-1",
        "a 4 minute token is not refreshed on every call"
    );
    clock.advance(Duration::seconds(30));
    assert_eq!(token_of(&p).await, "tok-2");
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_refresh() {
    let server = MockServer::start().await;
    let (count, clock) =
        mount_issuer(&server, Duration::hours(24), StdDuration::from_millis(300)).await;
    let p = provider(password_config(&server), clock);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { token_of(&p).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.expect("task"), "tok-1");
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "one IAM call for 16 concurrent callers"
    );
}

#[tokio::test]
async fn invalidate_forces_a_new_token() {
    let server = MockServer::start().await;
    let (count, clock) = mount_issuer(&server, Duration::hours(24), StdDuration::ZERO).await;
    let p = provider(password_config(&server), clock);
    assert_eq!(token_of(&p).await, "tok-1");
    p.invalidate().await;
    assert_eq!(token_of(&p).await, "tok-2");
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn rejected_password_names_the_user_not_the_password() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error":{"message":"The username or password is wrong.","code":401,"title":"Unauthorized"}})))
        .mount(&server)
        .await;
    let p = AuthProvider::new(password_config(&server)).expect("provider");
    let err = p.project_id().await.expect_err("401");
    let msg = err.to_string();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(
        msg.contains("user 'alice'") && msg.contains("OTC00000000001000000001"),
        "{msg}"
    );
    assert!(msg.contains("The username or password is wrong."), "{msg}");
    assert!(msg.contains("eu-de_analytics"), "{msg}");
    assert!(
        !msg.contains(PASSWORD) && !format!("{err:?}").contains(PASSWORD),
        "{msg}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn server_errors_and_malformed_replies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(header("content-type", "application/json;charset=utf8"))
        .respond_with(ResponseTemplate::new(503).set_body_string("maintenance"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(token_body(&server.uri(), t0() + Duration::hours(24))),
        )
        .mount(&server)
        .await;
    let p = AuthProvider::with_options(
        password_config(&server),
        ProviderOptions {
            clock: ManualClock::at(t0()),
            ..ProviderOptions::default()
        },
    )
    .expect("provider");
    let err = p.project_id().await.expect_err("503");
    assert!(
        matches!(err, Error::Iam { status: 503, .. }) && err.is_retryable(),
        "{err:?}"
    );
    assert!(err.to_string().contains("maintenance"), "{err}");
    let err = p.project_id().await.expect_err("no subject token header");
    assert!(err.to_string().contains("X-Subject-Token"), "{err}");
}

#[tokio::test]
async fn unreachable_iam_is_a_retryable_http_error() {
    let server = MockServer::start().await;
    let mut config = password_config(&server);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    config.auth_url = Url::parse(&format!("http://127.0.0.1:{port}/v3")).expect("url");
    let p = AuthProvider::with_options(
        config,
        ProviderOptions {
            timeout: StdDuration::from_secs(5),
            ..ProviderOptions::default()
        },
    )
    .expect("provider");
    let err = p.project_id().await.expect_err("connection refused");
    assert!(
        matches!(err, Error::Http { .. }) && err.is_retryable(),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_still_valid_token() {
    let server = MockServer::start().await;
    let clock = ManualClock::at(t0());
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("X-Subject-Token", "tok-old")
                .set_body_json(token_body(&server.uri(), t0() + Duration::hours(1))),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let p = provider(password_config(&server), clock.clone());
    assert_eq!(token_of(&p).await, "tok-old");
    clock.advance(Duration::minutes(58));
    assert_eq!(
        token_of(&p).await,
        "tok-old",
        "refresh failed, old token still valid"
    );
    clock.advance(Duration::minutes(3));
    let mut h = HeaderMap::new();
    let url = Url::parse("https://cts.example/").expect("url");
    let err = p
        .authorize(&Method::GET, &url, &mut h, b"")
        .await
        .expect_err("expired and IAM down");
    assert!(matches!(err, Error::Iam { status: 500, .. }), "{err:?}");
}

#[tokio::test]
async fn token_credentials_are_exchanged_for_a_scoped_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/auth/tokens"))
        .and(body_partial_json(json!({"auth":{"identity":{"methods":["token"],"token":{"id":"user-token"}},"scope":{"project":{"id":PROJECT_ID}}}})))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("X-Subject-Token", "scoped")
                .set_body_json(token_body(&server.uri(), chrono::Utc::now() + Duration::hours(2))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut c = CloudConfig::new(
        "t",
        Url::parse(&format!("{}/v3", server.uri())).expect("url"),
        "eu-de",
        Credentials::Token(Secret::new("user-token")),
    );
    c.project_id = Some(PROJECT_ID.into());
    let p = AuthProvider::new(c).expect("provider");
    assert_eq!(token_of(&p).await, "scoped");
}
