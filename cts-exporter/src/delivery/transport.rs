//! One attempt at handing an event over: to the sink by HTTP, or to stdout.
//!
//! A transport answers each attempt with a [`Verdict`]; it never loops. The
//! loop, the bounded concurrency and the bookkeeping live in
//! [`crate::delivery::pipeline`], so they are tested with a fake transport.

use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use cloudevents::Event;

use crate::config::{EventMode, SinkConfig};
use crate::delivery::retry::{classify, Verdict};
use crate::delivery::token::TokenFile;
use crate::event::http;

/// Hands one event over once.
#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// One attempt; the caller decides about retries.
    async fn attempt(&self, event: &Event) -> Verdict;
}

/// POSTs CloudEvents to the sink.
#[derive(Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    url: url::Url,
    /// The URL for messages, with any password replaced by `***`.
    shown_url: String,
    mode: EventMode,
    token: Option<Arc<TokenFile>>,
}

/// The sink's HTTP client could not be built (bad CA bundle, TLS backend).
#[derive(Debug)]
pub struct BuildError(pub String);

impl HttpTransport {
    /// Builds the HTTP client for `cfg`.
    pub fn new(cfg: &SinkConfig) -> Result<HttpTransport, BuildError> {
        let mut b = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .pool_max_idle_per_host(cfg.concurrency.get())
            .user_agent(concat!("cts-exporter/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &cfg.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| BuildError(format!("K_CA_CERTS: {e}")))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| BuildError(e.to_string()))?;
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

    fn request(&self, event: &Event) -> Result<reqwest::RequestBuilder, String> {
        let mut rb = self.client.post(self.url.clone());
        if let Some(tok) = self.token.as_ref().and_then(|t| t.current()) {
            rb = rb.bearer_auth(tok.expose());
        }
        match self.mode {
            EventMode::Binary => {
                // Written here, not by the SDK's binding, which sends header
                // values unencoded and the time as `+00:00` (see event::http).
                let m = http::binary(event).map_err(|e| e.to_string())?;
                for (name, value) in m.headers {
                    rb = rb.header(name, value);
                }
                if let Some(ct) = m.content_type {
                    rb = rb.header(reqwest::header::CONTENT_TYPE, ct);
                }
                Ok(rb.body(m.body))
            }
            EventMode::Structured => {
                let body = http::structured(event).map_err(|e| e.to_string())?;
                Ok(rb
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/cloudevents+json",
                    )
                    .body(body))
            }
        }
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn attempt(&self, event: &Event) -> Verdict {
        let rb = match self.request(event) {
            Ok(rb) => rb,
            Err(reason) => {
                return Verdict::Reject {
                    status: None,
                    reason: format!("cannot encode the event: {reason}"),
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

/// Prints each event as one line of structured JSON on stdout (`CTS_X_PNP=false`).
#[derive(Debug, Default)]
pub struct PrintTransport;

#[async_trait]
impl Transport for PrintTransport {
    async fn attempt(&self, event: &Event) -> Verdict {
        let line = match http::structured(event) {
            Ok(l) => l,
            Err(e) => {
                return Verdict::Reject {
                    status: None,
                    reason: format!("cannot encode the event: {e}"),
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
    fn sink_passwords_are_masked_in_messages() {
        let u = url::Url::parse("https://user:hunter2@sink.example/path").expect("url");
        let shown = shown_url(&u);
        assert_eq!(shown, "https://user:***@sink.example/path");
        assert_eq!(
            shown_url(&url::Url::parse("http://sink/").expect("url")),
            "http://sink/"
        );
    }
}
