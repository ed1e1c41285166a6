//! The HTTP side of the IAM flows: building the client, sending, and turning IAM's answers into
//! [`Error`]s that name the rejected credential.
//!
//! Request bodies (which hold passwords) are never logged; only method, URL and status are.

use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};
use url::Url;

use crate::{CloudConfig, Error};

/// What came back from IAM.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Builds the HTTP client, honouring `verify_tls` and `ca_cert`.
pub(crate) fn client(config: &CloudConfig, timeout: Duration) -> Result<reqwest::Client, Error> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("otc-auth/", env!("CARGO_PKG_VERSION")));
    if !config.verify_tls {
        b = b.danger_accept_invalid_certs(true);
    }
    if let Some(path) = &config.ca_cert {
        let pem = std::fs::read(path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| Error::InvalidField {
            cloud: config.name.clone(),
            origin: config.origin.clone(),
            field: "cacert".into(),
            value: path.display().to_string(),
            problem: format!("not a PEM certificate: {e}"),
        })?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| Error::Http {
        url: config.auth_url.to_string(),
        message: format!("cannot build the HTTP client: {e}"),
    })
}

/// `{auth_url}/{suffix}` by string concatenation (so `/v3` is kept whatever `Url::join` would do).
pub(crate) fn iam_url(auth_url: &Url, suffix: &str) -> Result<Url, Error> {
    let text = format!("{}/{}", auth_url.as_str().trim_end_matches('/'), suffix);
    Url::parse(&text).map_err(|e| Error::Request(format!("cannot build IAM URL {text}: {e}")))
}

/// Sends one request and reads the whole reply.
pub(crate) async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &Url,
    headers: HeaderMap,
    body: Vec<u8>,
) -> Result<Reply, Error> {
    tracing::debug!(%method, %url, "IAM request");
    let resp = http
        .request(method, url.clone())
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| Error::Http {
            url: url.to_string(),
            message: error_chain(&e),
        })?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(|e| Error::Http {
        url: url.to_string(),
        message: format!("reading the response failed: {}", error_chain(&e)),
    })?;
    tracing::debug!(%url, status = status.as_u16(), "IAM response");
    Ok(Reply {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// Maps a non-success reply to an error; 401 names `credential` (a description, never a secret).
pub(crate) fn check(reply: &Reply, url: &Url, credential: &str) -> Result<(), Error> {
    if reply.status.is_success() {
        return Ok(());
    }
    let message = error_message(&reply.body);
    if reply.status == StatusCode::UNAUTHORIZED {
        return Err(Error::Unauthorized {
            credential: credential.to_owned(),
            url: url.to_string(),
            message,
        });
    }
    Err(Error::Iam {
        status: reply.status.as_u16(),
        url: url.to_string(),
        message,
    })
}

/// Parses a JSON success body.
pub(crate) fn json<T: serde::de::DeserializeOwned>(reply: &Reply, url: &Url) -> Result<T, Error> {
    serde_json::from_slice(&reply.body).map_err(|e| Error::BadResponse {
        url: url.to_string(),
        problem: format!("invalid JSON body: {e}"),
    })
}

/// The message of a Keystone (`{"error":{"message"}}`) or APIG (`{"error_msg"}`) error body, else the
/// start of the body text.
fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let candidates = [
            v.pointer("/error/message"),
            v.pointer("/error_msg"),
            v.pointer("/message"),
            v.pointer("/error/title"),
        ];
        if let Some(m) = candidates.into_iter().flatten().find_map(|m| m.as_str()) {
            return m.to_owned();
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".to_owned()
    } else {
        text.chars().take(300).collect()
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_known_shapes() {
        assert_eq!(
            error_message(br#"{"error":{"message":"The request you have made requires authentication.","code":401,"title":"Unauthorized"}}"#),
            "The request you have made requires authentication."
        );
        assert_eq!(error_message(br#"{"error_msg":"Incorrect IAM authentication information","error_code":"APIGW.0301"}"#), "Incorrect IAM authentication information");
        assert_eq!(error_message(b""), "(empty body)");
        assert_eq!(error_message(b"plain text"), "plain text");
    }

    #[test]
    fn iam_url_keeps_the_version_path() {
        let base = Url::parse("https://iam.eu-de.otc.t-systems.com/v3").expect("url");
        assert_eq!(
            iam_url(&base, "auth/tokens").expect("url").as_str(),
            "https://iam.eu-de.otc.t-systems.com/v3/auth/tokens"
        );
    }
}
