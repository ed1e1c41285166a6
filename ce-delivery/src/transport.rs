//! One attempt at handing an event (or a batch) over: to the sink by HTTP, or to stdout.
//!
//! A transport answers each attempt with a [`Verdict`]; it never loops. The
//! loop, the bounded concurrency and the bookkeeping live in
//! [`crate::pipeline`], so they are tested with a fake transport.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use cloudevents::Event;

use crate::encoding;
use crate::retry::{classify, Verdict};
use crate::token::TokenFile;
use crate::Error;

/// Hands events over, one attempt at a time.
#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// One attempt for one event; the caller decides about retries.
    async fn attempt(&self, event: &Event) -> Verdict;

    /// One attempt for several events at once, acknowledged or refused as a
    /// whole. Transports that cannot send batches keep this default, which
    /// refuses at once, so the pipeline sends the events one by one instead.
    async fn attempt_batch(&self, events: &[Event]) -> Verdict {
        let _ = events;
        Verdict::Reject {
            status: None,
            reason: "this transport sends events one at a time".into(),
        }
    }
}

/// How a single CloudEvent travels over HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentMode {
    /// Attributes in `ce-*` headers, the data as body (Knative's default).
    Binary,
    /// The whole event as `application/cloudevents+json`.
    Structured,
}

/// What [`HttpTransport`] needs: where, how, and with which credentials.
#[derive(Clone)]
pub struct HttpConfig {
    /// The sink (`K_SINK`).
    pub url: url::Url,
    /// Binary or structured content mode for single events.
    pub mode: ContentMode,
    /// Extra CA certificates (PEM, `K_CA_CERTS`) for an https sink.
    pub ca_pem: Option<Vec<u8>>,
    /// The OIDC token file (Knative mounts `/oidc/token`); absent file = no token.
    pub oidc_token_file: Option<PathBuf>,
    /// Idle connections kept per host; match the pipeline's concurrency.
    pub max_idle_per_host: usize,
    /// Timeout of one request, answer included.
    pub request_timeout: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl HttpConfig {
    /// Binary mode, no CA bundle, no token, 64 idle connections, a 30 s
    /// timeout and `ce-delivery/<version>` as user agent.
    pub fn new(url: url::Url) -> HttpConfig {
        HttpConfig {
            url,
            mode: ContentMode::Binary,
            ca_pem: None,
            oidc_token_file: None,
            max_idle_per_host: 64,
            request_timeout: Duration::from_secs(30),
            user_agent: concat!("ce-delivery/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("url", &shown_url(&self.url))
            .field("mode", &self.mode)
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("oidc_token_file", &self.oidc_token_file)
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("request_timeout", &self.request_timeout)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// Checks a sink URL as Knative injects it in `K_SINK`: an `http` or `https`
/// URL with a host. Surrounding blanks are ignored.
///
/// # Errors
///
/// [`Error::Setting`] naming the value and giving an example.
pub fn parse_sink_url(raw: &str) -> Result<url::Url, Error> {
    let raw = raw.trim();
    let url = url::Url::parse(raw).map_err(|e| Error::Setting {
        problem: format!(
            "{raw:?} is not a URL ({e}); expected e.g. http://sink.default.svc.cluster.local"
        ),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Setting {
            problem: format!("{raw:?} is not an http(s) URL with a host; expected e.g. https://sink.default.svc.cluster.local"),
        });
    }
    Ok(url)
}

/// Reads a CA bundle as Knative passes it in `K_CA_CERTS`: PEM text, or the
/// path of a PEM file. Every certificate is checked the way a client will
/// trust it, so a bad bundle fails here and not at the first request.
///
/// # Errors
///
/// [`Error::Setting`] if the file cannot be read or holds no valid certificate.
pub fn read_ca_bundle(raw: &str) -> Result<Vec<u8>, Error> {
    let pem = if raw.contains("-----BEGIN") {
        raw.as_bytes().to_vec()
    } else {
        std::fs::read(raw.trim()).map_err(|e| Error::Setting {
            problem: format!(
                "expected PEM certificates or a readable PEM file; cannot read {raw:?}: {e}"
            ),
        })?
    };
    let invalid = || {
        Error::Setting {
        problem: "holds no valid PEM certificate; give the CA bundle starting with -----BEGIN CERTIFICATE-----".into(),
    }
    };
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| invalid())?;
    if certs.is_empty() {
        return Err(invalid());
    }
    // The DER inside is only checked when a client trusts it.
    let mut builder = reqwest::Client::builder();
    for c in certs {
        builder = builder.add_root_certificate(c);
    }
    builder.build().map(|_| pem).map_err(|_| invalid())
}

/// POSTs CloudEvents to the sink.
#[derive(Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    url: url::Url,
    /// The URL for messages, with any password replaced by `***`.
    shown_url: String,
    mode: ContentMode,
    token: Option<Arc<TokenFile>>,
}

impl HttpTransport {
    /// Builds the HTTP client for `cfg`.
    ///
    /// # Errors
    ///
    /// [`Error::Client`] if the CA bundle holds no valid certificate or the
    /// TLS backend cannot start.
    pub fn new(cfg: &HttpConfig) -> Result<HttpTransport, Error> {
        let mut b = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .pool_max_idle_per_host(cfg.max_idle_per_host)
            .user_agent(cfg.user_agent.as_str());
        if let Some(pem) = &cfg.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| Error::Client {
                problem: format!("the CA bundle (K_CA_CERTS) is not valid PEM: {e}"),
            })?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| Error::Client {
            problem: describe(e),
        })?;
        Ok(HttpTransport {
            client,
            url: cfg.url.clone(),
            shown_url: shown_url(&cfg.url),
            mode: cfg.mode,
            token: cfg
                .oidc_token_file
                .as_ref()
                .map(|p| Arc::new(TokenFile::new(p))),
        })
    }

    fn post(&self) -> reqwest::RequestBuilder {
        let mut rb = self.client.post(self.url.clone());
        if let Some(tok) = self.token.as_ref().and_then(|t| t.current()) {
            rb = rb.bearer_auth(tok.expose());
        }
        rb
    }

    fn request(&self, event: &Event) -> Result<reqwest::RequestBuilder, Error> {
        let mut rb = self.post();
        match self.mode {
            ContentMode::Binary => {
                // Written here, not by the SDK's binding, which sends header
                // values unencoded and the time as `+00:00` (see encoding).
                let m = encoding::binary(event)?;
                for (name, value) in m.headers {
                    rb = rb.header(name, value);
                }
                if let Some(ct) = m.content_type {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
                }
                Ok(rb.body(m.body))
            }
            ContentMode::Structured => {
                let body = encoding::structured(event)?;
                Ok(rb
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        encoding::STRUCTURED_CONTENT_TYPE,
                    )
                    .body(body))
            }
        }
    }

    /// Sends a built request once and classifies the answer.
    async fn send(&self, built: Result<reqwest::RequestBuilder, Error>) -> Verdict {
        let rb = match built {
            Ok(rb) => rb,
            Err(e) => {
                return Verdict::Reject {
                    status: None,
                    reason: e.to_string(),
                }
            }
        };
        let resp = match rb.send().await {
            Ok(r) => r,
            // A request that cannot even be built (a header value reqwest refuses) fails the same way
            // on every attempt: retrying it would loop for ever and hold the watermark back.
            Err(e) if e.is_builder() => {
                return Verdict::Reject {
                    status: None,
                    reason: format!("cannot encode the event: {}", describe(e)),
                }
            }
            Err(e) => {
                return Verdict::Retry {
                    after: None,
                    reason: format!("sink {} unreachable: {}", self.shown_url, describe(e)),
                }
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp.bytes().await.unwrap_or_default();
        if status == 401 {
            if let Some(t) = &self.token {
                if t.reload() {
                    return Verdict::Retry {
                        after: None,
                        reason: "sink answered 401; the OIDC token file changed, retrying with the new token".into(),
                    };
                }
            }
        }
        match classify(status, retry_after.as_deref(), SystemTime::now()) {
            Verdict::Reject { status, reason } => Verdict::Reject {
                status,
                reason: with_body(reason, &body),
            },
            Verdict::Retry { after, reason } => Verdict::Retry {
                after,
                reason: with_body(reason, &body),
            },
            Verdict::Done => Verdict::Done,
        }
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn attempt(&self, event: &Event) -> Verdict {
        self.send(self.request(event)).await
    }

    /// POSTs the events as one `application/cloudevents-batch+json` body.
    async fn attempt_batch(&self, events: &[Event]) -> Verdict {
        let built = encoding::batch(events).map(|body| {
            self.post()
                .header(reqwest::header::CONTENT_TYPE, encoding::BATCH_CONTENT_TYPE)
                .body(body)
        });
        self.send(built).await
    }
}

/// The error chain as text, without the URL (which may carry credentials).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// `url` with its password (if any) masked.
fn shown_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

fn with_body(reason: String, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        reason
    } else {
        let short: String = text.chars().take(200).collect();
        format!("{reason}: {short}")
    }
}

/// Prints each event as one line of structured JSON on stdout (a dry run).
#[derive(Debug, Default)]
pub struct PrintTransport;

#[async_trait]
impl Transport for PrintTransport {
    async fn attempt(&self, event: &Event) -> Verdict {
        let line = match encoding::structured(event) {
            Ok(l) => l,
            Err(e) => {
                return Verdict::Reject {
                    status: None,
                    reason: e.to_string(),
                }
            }
        };
        let mut out = std::io::stdout().lock();
        match out
            .write_all(&line)
            .and_then(|_| out.write_all(b"\n"))
            .and_then(|_| out.flush())
        {
            Ok(()) => Verdict::Done,
            Err(e) => Verdict::Reject {
                status: None,
                reason: format!("cannot write to stdout: {e}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_urls_and_ca_bundles_are_checked() {
        assert_eq!(
            parse_sink_url(" http://sink.default.svc/ns ")
                .expect("valid")
                .as_str(),
            "http://sink.default.svc/ns"
        );
        for (raw, needle) in [
            ("not a url", "is not a URL"),
            ("ftp://x/", "http(s)"),
            ("", "is not a URL"),
            ("http://", "is not a URL"),
            ("mailto:ü@x", "http(s)"),
        ] {
            let e = parse_sink_url(raw).expect_err(raw);
            assert!(e.to_string().contains(needle), "{raw}: {e}");
        }
        let e = read_ca_bundle("/nonexistent/ca.pem").expect_err("no file");
        assert!(e.to_string().contains("cannot read"), "{e}");
        let e = read_ca_bundle(
            "-----BEGIN CERTIFICATE-----\nnot base64 ü\n-----END CERTIFICATE-----\n",
        )
        .expect_err("bad PEM");
        assert!(e.to_string().contains("no valid PEM"), "{e}");
    }

    #[test]
    fn sink_passwords_are_masked_in_messages() {
        let u = url::Url::parse("https://user:hunter2@sink.example/path").expect("url");
        let shown = shown_url(&u);
        assert_eq!(shown, "https://user:***@sink.example/path");
        assert_eq!(
            shown_url(&url::Url::parse("http://sink/").expect("url")),
            "http://sink/"
        );
        let cfg =
            HttpConfig::new(url::Url::parse("https://user:hunter2@sink.example/").expect("url"));
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }
}
