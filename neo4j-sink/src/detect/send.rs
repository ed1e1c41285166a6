//! Sending findings as CloudEvents: a small sender behind a trait, so the
//! detector does not care how events travel.
//!
//! [`CeSender`] is the workspace's delivery crate, `ce-delivery`, the one the
//! exporter sends through: `K_CE_OVERRIDES` parsed by
//! [`ce_delivery::Overrides`], binary content mode with percent-encoded
//! `ce-*` headers ([`ce_delivery::encoding`]), the Knative retry
//! classification (retry after a connection failure, a timeout, 404, 408,
//! 409, 429 and 5xx, honouring `Retry-After`; refuse other answers for good)
//! with jittered exponential back-off ([`ce_delivery::sink_retry`]), the OIDC
//! token file and an extra CA bundle ([`ce_delivery::HttpTransport`]). Only a
//! 2xx is success.
//!
//! The detector needs to tell a refusal (skip this finding, go on) from an
//! unavailable receiver (stop sending until the next run), which the
//! pipeline's outcome does not separate, so the attempts are made here one
//! after the other with the crate's transport and retry policy.

use async_trait::async_trait;
use ce_delivery::cloudevents::{Event, EventBuilder, EventBuilderV10};
use ce_delivery::{HttpConfig, HttpTransport, Jitter, RetryPolicy, Transport, Verdict};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One CloudEvent to send.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingEvent {
    /// `id`: the finding id (deterministic, so a receiver can drop repeats).
    pub id: String,
    /// `type`, e.g. `com.otc.cts.finding.mass-deletion`.
    pub event_type: String,
    /// `source`, e.g. `/neo4j-sink/detect/default`.
    pub source: String,
    /// `subject`: the rule's name.
    pub subject: String,
    /// `time`, RFC 3339.
    pub time: String,
    /// Extensions set by the detector itself (`severity`); overrides win.
    pub extensions: BTreeMap<String, String>,
    /// The JSON data.
    pub data: Value,
}

/// Why an event was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The receiver answered a status that retrying will not change, or the
    /// event could not be written (no status then).
    #[error("the receiver refused the event ({}): {reason}", status.map_or("no answer".to_owned(), |s| format!("HTTP {s}")))]
    Refused {
        /// The HTTP status, if the receiver answered.
        status: Option<u16>,
        /// Why, with the start of the answer's body.
        reason: String,
    },
    /// Every attempt failed with a retryable error.
    #[error("the receiver is unavailable after {attempts} attempt(s): {last}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

/// Delivers one event; `Ok` only when the receiver answered 2xx.
#[async_trait]
pub trait FindingSender: Send + Sync {
    /// Sends `event`, retrying as the implementation sees fit.
    async fn send(&self, event: &FindingEvent) -> Result<(), SendError>;
}

/// Where and how [`CeSender`] sends.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The receiver (`K_SINK`).
    pub sink: url::Url,
    /// `K_CE_OVERRIDES` extensions, set on every event over the detector's own.
    pub overrides: BTreeMap<String, String>,
    /// Time limit of one request.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// Extra CA certificates (PEM) for an https receiver (`K_CA_CERTS`).
    pub ca_pem: Option<Vec<u8>>,
    /// The OIDC token file sent as `Authorization: Bearer` (`K_OIDC_TOKEN_FILE`).
    pub oidc_token_file: Option<PathBuf>,
}

/// Sends findings through `ce-delivery`'s transport and retry policy.
pub struct CeSender {
    transport: Arc<dyn Transport>,
    overrides: BTreeMap<String, String>,
    /// Retries after the first attempt.
    pub retries: u32,
    /// The back-off between attempts (`Retry-After` wins, up to `max_retry_after`).
    pub policy: RetryPolicy,
    jitter: Jitter,
}

impl std::fmt::Debug for CeSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CeSender")
            .field("transport", &self.transport)
            .field("overrides", &self.overrides)
            .field("retries", &self.retries)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl CeSender {
    /// A sender over HTTP as `config` says (binary content mode).
    ///
    /// Errors: the HTTP client cannot be built (a bad CA bundle, TLS roots missing).
    pub fn new(config: &SenderConfig) -> Result<CeSender, ce_delivery::Error> {
        let mut http = HttpConfig::new(config.sink.clone());
        http.request_timeout = config.timeout;
        http.ca_pem = config.ca_pem.clone();
        http.oidc_token_file = config.oidc_token_file.clone();
        http.max_idle_per_host = 2;
        http.user_agent = concat!("neo4j-sink-detect/", env!("CARGO_PKG_VERSION")).to_owned();
        let transport = Arc::new(HttpTransport::new(&http)?);
        Ok(CeSender::with_transport(
            transport,
            config.overrides.clone(),
            config.retries,
        ))
    }

    /// A sender over any transport: 200 ms back-off doubling up to 30 s, and
    /// a `Retry-After` honoured up to 30 s (a run waits for its sends, so one
    /// receiver asking for 15 minutes must not hold the detector that long).
    pub fn with_transport(
        transport: Arc<dyn Transport>,
        overrides: BTreeMap<String, String>,
        retries: u32,
    ) -> CeSender {
        let mut policy =
            ce_delivery::sink_retry(Duration::from_millis(200), Duration::from_secs(30));
        policy.max_retry_after = Duration::from_secs(30);
        CeSender {
            transport,
            overrides,
            retries,
            policy,
            jitter: ce_delivery::random_jitter(),
        }
    }

    /// The CloudEvent of `event`, with the overrides applied over its own extensions.
    ///
    /// Errors: an attribute the CloudEvents SDK does not accept (a `time` that
    /// is not RFC 3339).
    pub fn cloudevent(&self, event: &FindingEvent) -> Result<Event, String> {
        let mut builder = EventBuilderV10::new()
            .id(event.id.as_str())
            .source(event.source.as_str())
            .ty(event.event_type.as_str())
            .subject(event.subject.as_str())
            .time(event.time.as_str())
            .data("application/json", event.data.clone());
        let mut extensions = event.extensions.clone();
        extensions.extend(self.overrides.clone());
        for (name, value) in extensions {
            builder = builder.extension(&name, value);
        }
        builder
            .build()
            .map_err(|e| format!("finding {} is not a valid CloudEvent: {e}", event.id))
    }
}

#[async_trait]
impl FindingSender for CeSender {
    async fn send(&self, event: &FindingEvent) -> Result<(), SendError> {
        let ce = self
            .cloudevent(event)
            .map_err(|reason| SendError::Refused {
                status: None,
                reason,
            })?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (after, last) = match self.transport.attempt(&ce).await {
                Verdict::Done => return Ok(()),
                Verdict::Reject { status, reason } => {
                    return Err(SendError::Refused { status, reason })
                }
                Verdict::Retry { after, reason } => (after, reason),
            };
            if attempt > self.retries {
                return Err(SendError::Unavailable {
                    attempts: attempt,
                    last,
                });
            }
            let wait = after
                .map(|a| a.min(self.policy.max_retry_after))
                .unwrap_or_else(|| self.policy.backoff(attempt, (self.jitter)()));
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %last, "finding not delivered yet; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Answers attempts from a script, recording each event's id.
    #[derive(Debug)]
    struct Scripted {
        answers: Mutex<Vec<Verdict>>,
        seen: Mutex<Vec<Event>>,
    }

    #[async_trait]
    impl Transport for Scripted {
        async fn attempt(&self, event: &Event) -> Verdict {
            self.seen.lock().expect("lock").push(event.clone());
            let mut a = self.answers.lock().expect("lock");
            if a.is_empty() {
                Verdict::Done
            } else {
                a.remove(0)
            }
        }
    }

    fn sender(answers: Vec<Verdict>, retries: u32) -> (CeSender, Arc<Scripted>) {
        let t = Arc::new(Scripted {
            answers: Mutex::new(answers),
            seen: Mutex::new(Vec::new()),
        });
        let mut overrides = BTreeMap::new();
        overrides.insert("severity".to_owned(), "überschrieben".to_owned());
        let mut s = CeSender::with_transport(t.clone(), overrides, retries);
        s.policy.initial_backoff = Duration::from_millis(1);
        s.policy.max_backoff = Duration::from_millis(2);
        (s, t)
    }

    fn event() -> FindingEvent {
        let mut extensions = BTreeMap::new();
        extensions.insert("severity".to_owned(), "high".to_owned());
        FindingEvent {
            id: "f-1".into(),
            event_type: "com.otc.cts.finding.mass-deletion".into(),
            source: "/neo4j-sink/detect/default".into(),
            subject: "mass-deletion".into(),
            time: "2026-12-07T03:21:04.495Z".into(),
            extensions,
            data: serde_json::json!({"summary": "ä \"x\" 100%"}),
        }
    }

    fn retry() -> Verdict {
        Verdict::Retry {
            after: Some(Duration::ZERO),
            reason: "sink answered 503".into(),
        }
    }

    #[tokio::test]
    async fn retries_then_succeeds_and_overrides_win() {
        let (s, t) = sender(vec![retry(), retry()], 2);
        s.send(&event())
            .await
            .expect("delivered on the third attempt");
        let seen = t.seen.lock().expect("lock");
        assert_eq!(seen.len(), 3);
        let m = ce_delivery::encoding::binary(&seen[0]).expect("encodes");
        let h: BTreeMap<_, _> = m.headers.into_iter().collect();
        assert_eq!(
            h.get("ce-severity").map(String::as_str),
            Some("%C3%BCberschrieben")
        );
        assert_eq!(h.get("ce-id").map(String::as_str), Some("f-1"));
        assert_eq!(
            h.get("ce-time").map(String::as_str),
            Some("2026-12-07T03:21:04.495Z")
        );
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_slice(&m.body).expect("json body");
        assert_eq!(body, event().data);
    }

    #[tokio::test]
    async fn gives_up_after_the_retries_and_refusals_are_not_retried() {
        let (s, t) = sender(vec![retry(), retry(), retry()], 2);
        let e = s.send(&event()).await.expect_err("unavailable");
        assert!(
            matches!(e, SendError::Unavailable { attempts: 3, .. }),
            "{e}"
        );
        assert_eq!(t.seen.lock().expect("lock").len(), 3);
        let refused = Verdict::Reject {
            status: Some(400),
            reason: "sink answered 400: bad".into(),
        };
        let (s, t) = sender(vec![refused], 5);
        let e = s.send(&event()).await.expect_err("refused");
        assert!(
            matches!(
                e,
                SendError::Refused {
                    status: Some(400),
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("HTTP 400"), "{e}");
        assert_eq!(t.seen.lock().expect("lock").len(), 1);
    }

    #[test]
    fn a_long_retry_after_is_cut_to_30_seconds() {
        let (s, _) = sender(vec![], 1);
        assert_eq!(s.policy.max_retry_after, Duration::from_secs(30));
        let s = CeSender::with_transport(Arc::new(PrintLess), BTreeMap::new(), 1);
        assert_eq!(s.policy.max_retry_after, Duration::from_secs(30));
        assert_eq!(s.policy.max_backoff, Duration::from_secs(30));
    }

    #[derive(Debug)]
    struct PrintLess;

    #[async_trait]
    impl Transport for PrintLess {
        async fn attempt(&self, _: &Event) -> Verdict {
            Verdict::Done
        }
    }

    #[tokio::test]
    async fn a_bad_time_is_a_refusal_not_a_panic() {
        let (s, t) = sender(vec![], 0);
        let mut bad = event();
        bad.time = "yesterday".into();
        let e = s.send(&bad).await.expect_err("refused");
        assert!(matches!(e, SendError::Refused { status: None, .. }), "{e}");
        assert!(e.to_string().contains("f-1"), "{e}");
        assert!(t.seen.lock().expect("lock").is_empty());
    }
}
