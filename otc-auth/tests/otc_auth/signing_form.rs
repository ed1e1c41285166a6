//! The AK/SK signature form: the OTC SDK's by default, the signing guide's as an option, and the
//! one-time fallback after a gateway signature refusal (the repository's docs/authentication.md §3.2), against a
//! wiremock gateway that accepts only one form and checks the signature it receives.

use std::sync::{Arc, Mutex};

use http::{HeaderMap, Method};
use otc_auth::sign::SignatureForm;
use otc_auth::{AuthProvider, Error, RequestAuthorizer};
use serde_json::json;
use url::Url;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::aksk::{aksk_config, verify_received_form, SK};
use crate::common::{catalog, DOMAIN_ID, PROJECT_ID};
use crate::secrets::Capture;

const SIG_FAIL: &str = "Incorrect IAM authentication information: verify aksk signature fail";

/// What the fake gateway does with a request signed in a form it does not accept.
#[derive(Clone, Copy)]
enum Refusal {
    Signature,
    Expired,
}

/// A gateway that accepts only `accepts` (none: refuses every signature) and answers IAM's project
/// and catalog calls; it records the form of every request it saw.
#[derive(Clone)]
struct Gateway {
    accepts: Option<SignatureForm>,
    refusal: Refusal,
    base: String,
    seen: Arc<Mutex<Vec<SignatureForm>>>,
}

impl Respond for Gateway {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        // The signature must verify in the form it claims, whatever the gateway accepts.
        let (_, form) = verify_received_form(req);
        self.seen.lock().expect("lock").push(form);
        if Some(form) != self.accepts {
            return match self.refusal {
                Refusal::Signature => ResponseTemplate::new(401).set_body_json(
                    json!({"error_msg": SIG_FAIL, "error_code": "APIG.0301", "request_id": "r1"}),
                ),
                Refusal::Expired => ResponseTemplate::new(401).set_body_json(json!({
                    "error_msg": "Incorrect IAM authentication information: signature expired, signature time:20240301T120000Z,server time:20240301T130000Z",
                    "error_code": "APIG.0303", "request_id": "r2"})),
            };
        }
        match req.url.path() {
            "/v3/projects" => ResponseTemplate::new(200).set_body_json(json!({
                "projects":[{"id":PROJECT_ID,"name":"eu-de_analytics","domain_id":DOMAIN_ID}],
                "links":{"self":"x"}})),
            "/v3/auth/catalog" => ResponseTemplate::new(200)
                .set_body_json(json!({"catalog": catalog(&self.base), "links":{"self":"x"}})),
            _ => ResponseTemplate::new(200)
                .set_body_json(json!({"traces": [], "meta_data": {"count": 0}})),
        }
    }
}

async fn gateway(accepts: Option<SignatureForm>, refusal: Refusal) -> (MockServer, Gateway) {
    let server = MockServer::start().await;
    let g = Gateway {
        accepts,
        refusal,
        base: server.uri(),
        seen: Arc::default(),
    };
    Mock::given(wiremock::matchers::any())
        .respond_with(g.clone())
        .mount(&server)
        .await;
    (server, g)
}

fn seen(g: &Gateway) -> Vec<SignatureForm> {
    g.seen.lock().expect("lock").clone()
}

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let cap = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(cap.clone())
        .with_ansi(false)
        .finish();
    (cap, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn sdk_form_refused_guide_form_tried_once_and_kept() {
    let (cap, _guard) = capture();
    let (server, g) = gateway(Some(SignatureForm::Guide), Refusal::Signature).await;
    let p = AuthProvider::new(aksk_config(&server, None)).expect("provider");
    assert_eq!(p.signature_form(), Some(SignatureForm::Sdk));
    let cts = p.endpoint("cts").await.expect("the guide form is accepted");
    assert_eq!(cts.as_str(), format!("{}/v1.0/{PROJECT_ID}/", server.uri()));
    assert_eq!(
        seen(&g),
        [SignatureForm::Sdk, SignatureForm::Guide, SignatureForm::Guide],
        "project lookup refused in the SDK form, retried once in the guide form; catalog in the guide form"
    );
    assert_eq!(p.signature_form(), Some(SignatureForm::Guide));

    // Service requests are signed in the form that worked.
    let mut h = HeaderMap::new();
    p.authorize(
        &Method::GET,
        &cts.join("tracker").expect("url"),
        &mut h,
        b"",
    )
    .await
    .expect("authorize");
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .expect("auth");
    assert!(auth.starts_with("SDK-HMAC-SHA256 Access="), "{auth}");

    let logs = cap.text();
    let info: Vec<&str> = logs.lines().filter(|l| l.contains(" INFO ")).collect();
    assert_eq!(info.len(), 1, "exactly one INFO line:\n{logs}");
    assert!(
        info[0].contains("refused AK/SK signatures in the sdk form and accepted the guide form"),
        "{}",
        info[0]
    );
    assert!(
        !logs.contains(SK),
        "the secret key must not be logged:\n{logs}"
    );
}

#[tokio::test]
async fn both_forms_refused_is_one_try_each_then_no_more_switching() {
    let (server, g) = gateway(None, Refusal::Signature).await;
    let p = AuthProvider::new(aksk_config(&server, None)).expect("provider");
    let err = p.project_id().await.expect_err("no form is accepted");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    assert!(
        err.to_string().contains("verify aksk signature fail"),
        "{err}"
    );
    assert_eq!(seen(&g), [SignatureForm::Sdk, SignatureForm::Guide]);
    assert_eq!(
        p.signature_form(),
        Some(SignatureForm::Sdk),
        "back to the configured form"
    );
    p.project_id().await.expect_err("still refused");
    assert_eq!(
        seen(&g),
        [SignatureForm::Sdk, SignatureForm::Guide, SignatureForm::Sdk],
        "no second fallback: the key is the problem, not the form"
    );
}

#[tokio::test]
async fn an_expired_signature_is_not_a_reason_to_switch() {
    let (server, g) = gateway(None, Refusal::Expired).await;
    let p = AuthProvider::new(aksk_config(&server, None)).expect("provider");
    let err = p.project_id().await.expect_err("expired");
    assert!(err.to_string().contains("signature expired"), "{err}");
    assert_eq!(seen(&g), [SignatureForm::Sdk]);
    assert_eq!(p.signature_form(), Some(SignatureForm::Sdk));
}

#[tokio::test]
async fn the_guide_form_can_be_configured() {
    let (cap, _guard) = capture();
    let (server, g) = gateway(Some(SignatureForm::Guide), Refusal::Signature).await;
    let mut c = aksk_config(&server, None);
    c.aksk_signing = SignatureForm::Guide;
    let p = AuthProvider::new(c).expect("provider");
    p.endpoint("cts").await.expect("accepted at once");
    assert_eq!(seen(&g), [SignatureForm::Guide, SignatureForm::Guide]);
    assert!(
        !cap.text().contains(" INFO "),
        "no INFO line when the configured form works:\n{}",
        cap.text()
    );
}

#[tokio::test]
async fn a_gateway_that_accepts_the_sdk_form_sees_only_the_sdk_form() {
    let (server, g) = gateway(Some(SignatureForm::Sdk), Refusal::Signature).await;
    let p = AuthProvider::new(aksk_config(&server, None)).expect("provider");
    p.endpoint("cts").await.expect("accepted");
    assert_eq!(seen(&g), [SignatureForm::Sdk, SignatureForm::Sdk]);
}

/// The service-client path: no IAM call (project id configured), the client reports refusals and
/// acceptances through the RequestAuthorizer trait, as cts-client does.
#[tokio::test]
async fn service_client_refusal_switches_the_form_once() {
    let (server, g) = gateway(Some(SignatureForm::Guide), Refusal::Signature).await;
    let mut c = aksk_config(&server, None);
    c.project_id = Some(PROJECT_ID.into());
    let p = AuthProvider::new(c).expect("provider");
    let url = Url::parse(&format!("{}/v3/{PROJECT_ID}/traces?limit=1", server.uri())).expect("url");
    let http = reqwest::Client::new();
    let send = |h: HeaderMap| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http.get(url).headers(h).send().await.expect("send");
            let status = r.status().as_u16();
            (status, r.bytes().await.expect("body").to_vec())
        }
    };

    let mut h1 = HeaderMap::new();
    p.authorize(&Method::GET, &url, &mut h1, b"")
        .await
        .expect("authorize");
    let (status, body) = send(h1.clone()).await;
    assert_eq!(status, 401);
    p.refused(&h1, status, &body).await;
    assert_eq!(p.signature_form(), Some(SignatureForm::Guide));

    let mut h2 = HeaderMap::new();
    p.authorize(&Method::GET, &url, &mut h2, b"")
        .await
        .expect("authorize");
    let (status, _) = send(h2.clone()).await;
    assert_eq!(status, 200);
    p.accepted(&h2);
    // A late refusal of a request signed before the switch changes nothing.
    p.refused(&h1, 401, SIG_FAIL.as_bytes()).await;
    assert_eq!(p.signature_form(), Some(SignatureForm::Guide));
    assert_eq!(seen(&g), [SignatureForm::Sdk, SignatureForm::Guide]);
}
