//! The seam between authentication and the service clients.
//!
//! A service client (cts-client) holds an `Arc<dyn RequestAuthorizer>` and calls
//! [`RequestAuthorizer::authorize`] on every request just before sending it. After the server
//! refused the credentials (401, or an API Gateway credential error) it calls
//! [`RequestAuthorizer::refused`] and retries once; when the server accepted them it calls
//! [`RequestAuthorizer::accepted`]. It never needs to know whether the request is
//! token-authenticated or AK/SK-signed. [`StaticToken`] is the trivial implementation.

use http::{HeaderMap, HeaderValue, Method};
use url::Url;

use crate::{Error, Secret};

/// The `X-Auth-Token` header name.
pub const X_AUTH_TOKEN: &str = "x-auth-token";

/// Adds authentication to outgoing requests.
#[async_trait::async_trait]
pub trait RequestAuthorizer: Send + Sync + std::fmt::Debug {
    /// Adds authentication headers (X-Auth-Token, or X-Sdk-Date+Authorization+X-Project-Id[+X-Security-Token]) to a request about to be sent.
    ///
    /// `headers` must already hold every other header the request will carry (at least
    /// `Content-Type` when there is a body), and `body` must be the exact bytes that will be sent:
    /// AK/SK signatures cover them.
    async fn authorize(
        &self,
        method: &Method,
        url: &Url,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<(), Error>;

    /// Forget the cached token after a 401 so the next authorize() re-authenticates.
    async fn invalidate(&self);

    /// The server refused the credentials of a request this authorizer authorized (a 401, or an
    /// API Gateway credential error code): `sent` are the request's headers as authorized, `status`
    /// and `body` the answer. The caller retries the request once afterwards.
    ///
    /// The default calls [`RequestAuthorizer::invalidate`]. [`crate::AuthProvider`] with AK/SK
    /// credentials switches to the other signature form once after a signature refusal
    /// (<https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/authentication.md>, §3.2).
    async fn refused(&self, sent: &HeaderMap, status: u16, body: &[u8]) {
        let _ = (sent, status, body);
        self.invalidate().await;
    }

    /// The server accepted the credentials of a request this authorizer authorized (its answer was
    /// no authentication failure). `sent` are the request's headers as authorized. The default does
    /// nothing; [`crate::AuthProvider`] with AK/SK credentials keeps the signature form that worked.
    fn accepted(&self, sent: &HeaderMap) {
        let _ = sent;
    }
}

/// Builds a sensitive header value (hidden from `HeaderMap`'s `Debug`).
pub(crate) fn sensitive_value(value: &str, what: &str) -> Result<HeaderValue, Error> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::Request(format!(
            "the {what} contains characters not allowed in an HTTP header"
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// An authorizer that sends a fixed `X-Auth-Token`: for tests, emulators and callers that already hold
/// a token. It never refreshes; `invalidate` does nothing.
#[derive(Debug, Clone)]
pub struct StaticToken {
    token: Secret,
}

impl StaticToken {
    /// Wraps a token.
    pub fn new(token: Secret) -> Self {
        Self { token }
    }
}

#[async_trait::async_trait]
impl RequestAuthorizer for StaticToken {
    async fn authorize(
        &self,
        _method: &Method,
        _url: &Url,
        headers: &mut HeaderMap,
        _body: &[u8],
    ) -> Result<(), Error> {
        headers.insert(X_AUTH_TOKEN, sensitive_value(self.token.expose(), "token")?);
        Ok(())
    }

    async fn invalidate(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_token_sets_a_hidden_header() {
        let auth = StaticToken::new(Secret::new("tok-123-secret"));
        let mut h = HeaderMap::new();
        let url = Url::parse("http://x/").expect("url");
        auth.authorize(&Method::GET, &url, &mut h, b"")
            .await
            .expect("authorize");
        assert_eq!(
            h.get(X_AUTH_TOKEN).and_then(|v| v.to_str().ok()),
            Some("tok-123-secret")
        );
        assert!(!format!("{h:?} {auth:?}").contains("tok-123-secret"));
        auth.invalidate().await;
        let mut h2 = HeaderMap::new();
        auth.authorize(&Method::GET, &url, &mut h2, b"")
            .await
            .expect("still works");
        assert!(h2.contains_key(X_AUTH_TOKEN));
    }
}
