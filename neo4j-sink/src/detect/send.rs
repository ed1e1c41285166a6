//! Sending findings as CloudEvents: a small sender behind a trait, so the
//! detector does not care how events travel (and the workspace's shared
//! delivery crate can replace [`HttpSender`] with one `impl`).
//!
//! [`HttpSender`] posts one event per request in binary content mode to
//! `K_SINK`, with the `K_CE_OVERRIDES` extensions, and retries connection
//! failures, timeouts, 429 and 5xx with exponential, jittered backoff that
//! honours `Retry-After` (delta seconds or an HTTP date). Other answers are
//! a refusal for good ([`SendError::Refused`]). Only a 2xx is success.

use async_trait::async_trait;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

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
    /// The receiver answered a status that retrying will not change.
    #[error("the receiver refused the event with HTTP {status}: {body}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
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

/// `K_CE_OVERRIDES`: `{"extensions": {"name": "value"}}`, names checked.
///
/// Errors: a message naming the setting, what is wrong and an example.
pub fn parse_overrides(raw: &str) -> Result<BTreeMap<String, String>, String> {
    const RESERVED: &[&str] = &[
        "id",
        "source",
        "specversion",
        "type",
        "datacontenttype",
        "dataschema",
        "subject",
        "time",
        "data",
        "data_base64",
    ];
    let example = r#"e.g. {"extensions":{"team":"ops"}}"#;
    if raw.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let value: Value = serde_json::from_str(raw)
        .map_err(|e| format!("K_CE_OVERRIDES is not valid JSON ({e}); {example}"))?;
    let mut out = BTreeMap::new();
    match value.get("extensions") {
        _ if !value.is_object() => {
            return Err(format!("K_CE_OVERRIDES must be a JSON object, {example}"))
        }
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, v) in map {
                let ok = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
                if !ok || RESERVED.contains(&name.as_str()) {
                    return Err(format!(
                        "K_CE_OVERRIDES: extension name {name:?} is not allowed: use lower-case \
                         letters and digits, not a context attribute name; {example}"
                    ));
                }
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(format!(
                            "K_CE_OVERRIDES: extension {name:?} must be a string, got {other}"
                        ))
                    }
                };
                out.insert(name.clone(), text);
            }
        }
        Some(other) => {
            return Err(format!(
                "K_CE_OVERRIDES: \"extensions\" must be an object, got {other}; {example}"
            ))
        }
    }
    Ok(out)
}

/// Posts events over HTTP in binary content mode.
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    sink: url::Url,
    overrides: BTreeMap<String, String>,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First backoff; doubles per retry up to `max_backoff`.
    pub initial_backoff: Duration,
    /// Longest wait between attempts (a longer `Retry-After` is cut to it).
    pub max_backoff: Duration,
}

impl HttpSender {
    /// A sender to `sink` with the given overrides and per-request timeout.
    ///
    /// Errors: the HTTP client cannot be built (TLS roots missing).
    pub fn new(
        sink: url::Url,
        overrides: BTreeMap<String, String>,
        timeout: Duration,
        retries: u32,
    ) -> Result<HttpSender, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpSender {
            client,
            sink,
            overrides,
            retries,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
        })
    }

    fn request(&self, event: &FindingEvent) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .post(self.sink.clone())
            .header("ce-specversion", "1.0")
            .header("ce-id", &event.id)
            .header("ce-source", &event.source)
            .header("ce-type", &event.event_type)
            .header("ce-subject", &event.subject)
            .header("ce-time", &event.time)
            .header("content-type", "application/json");
        let mut ext = event.extensions.clone();
        ext.extend(self.overrides.clone());
        for (name, value) in ext {
            // Header values must be visible ASCII; percent-encode anything else.
            req = req.header(format!("ce-{name}"), header_safe(&value));
        }
        req.body(event.data.to_string())
    }
}

/// Percent-encodes bytes a header value cannot carry (CloudEvents HTTP binding, 3.1.3.2).
fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' && b != b'"' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The wait a `Retry-After` value asks for: delta seconds or an IMF-fixdate.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // "Sun, 06 Nov 1994 08:49:37 GMT"
    let rest = v.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let at = u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()?;
    let at = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(at))?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[async_trait]
impl FindingSender for HttpSender {
    async fn send(&self, event: &FindingEvent) -> Result<(), SendError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let (last, asked) = match self.request(event).send().await {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let asked = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry_after(v, SystemTime::now()));
                    let body: String = resp
                        .text()
                        .await
                        .unwrap_or_default()
                        .chars()
                        .take(300)
                        .collect();
                    if status != 429 && status < 500 {
                        return Err(SendError::Refused { status, body });
                    }
                    (format!("HTTP {status}: {body}"), asked)
                }
                Err(e) => (format!("{e}"), None),
            };
            if attempt > self.retries {
                return Err(SendError::Unavailable {
                    attempts: attempt,
                    last,
                });
            }
            let ceiling = self
                .initial_backoff
                .saturating_mul(1u32 << (attempt - 1).min(16))
                .min(self.max_backoff);
            // Jitter from the clock's sub-second digits: enough to spread retries, no RNG needed.
            let spread = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() % 1000);
            let jittered = ceiling / 2 + (ceiling / 2) * spread / 1000;
            let wait = asked.map_or(jittered, |a| a.min(self.max_backoff).max(jittered / 4));
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, error = %last, "finding not delivered yet; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_checked() {
        let o = parse_overrides(r#"{"extensions":{"team":"ops","tier":3}}"#).expect("valid");
        assert_eq!(o.get("team").map(String::as_str), Some("ops"));
        assert_eq!(o.get("tier").map(String::as_str), Some("3"));
        assert!(parse_overrides("").expect("empty").is_empty());
        for bad in [
            r#"{"extensions":{"Team":"x"}}"#,
            r#"{"extensions":{"type":"x"}}"#,
            "[1]",
            "{",
            r#"{"extensions":[1]}"#,
        ] {
            let e = parse_overrides(bad).expect_err(bad);
            assert!(e.contains("K_CE_OVERRIDES"), "{e}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-3", now), None);
    }

    #[test]
    fn header_values_are_made_safe() {
        assert_eq!(header_safe("ops"), "ops");
        assert_eq!(header_safe("ä\n%"), "%C3%A4%0A%25");
    }
}
