//! One authorized HTTP exchange with CTS.
//!
//! This is the only module that touches `reqwest`. It authorizes the
//! request through the [`otc_auth::RequestAuthorizer`], enforces the
//! per-request timeout (connect, headers and body together), re-authenticates
//! once after a 401, and maps the status to a typed [`Error`]. Retrying is
//! not done here; see [`crate::retry`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use otc_auth::RequestAuthorizer;
use url::Url;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::{decode, retry_after, Error};

/// A successful (2xx) response: what decoding needs.
#[derive(Debug)]
pub(crate) struct Success {
    pub(crate) body: Bytes,
    pub(crate) content_type: Option<String>,
}

/// The HTTP side of the client: connection pool, authorizer, timeouts.
#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    auth: Arc<dyn RequestAuthorizer>,
    clock: Arc<dyn Clock>,
    request_timeout: Duration,
}

/// Error codes the API gateway uses for rejected credentials, whatever the
/// HTTP status (API Gateway's FAQ, <https://github.com/opentelekomcloud-docs/api-gateway/blob/main/umn/source/faqs/api_authentication/common_errors_related_to_iam_authentication_information.rst>, does not document the status of APIG.0301).
const AUTH_CODES: [&str; 4] = ["APIG.0301", "APIGW.0301", "APIG.0303", "APIGW.0303"];

impl Transport {
    pub(crate) fn new(
        auth: Arc<dyn RequestAuthorizer>,
        clock: Arc<dyn Clock>,
        request_timeout: Duration,
        connect_timeout: Duration,
        user_agent: &str,
    ) -> Result<Transport, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(user_agent)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::InvalidConfig {
                setting: "http client",
                problem: format!("could not be built: {}", chain(&e)),
            })?;
        Ok(Transport {
            http,
            auth,
            clock,
            request_timeout,
        })
    }

    /// GET `url` with credentials; on a 401 (or an APIG credential error)
    /// reports the refusal to the authorizer ([`RequestAuthorizer::refused`]:
    /// a token is dropped, an AK/SK signature switches form once) and tries
    /// exactly once more. An answer that is no credential failure is
    /// reported as [`RequestAuthorizer::accepted`].
    pub(crate) async fn get(&self, url: &Url) -> Result<Success, Error> {
        let first = self.exchange(url).await?;
        let response = if first.is_auth_failure() {
            tracing::debug!(
                status = first.status,
                "CTS rejected the credentials, re-authenticating once"
            );
            self.auth
                .refused(&first.sent, first.status, &first.body)
                .await;
            let second = self.exchange(url).await?;
            if second.is_auth_failure() {
                return Err(Error::Unauthorized(second.api_error()));
            }
            second
        } else {
            first
        };
        if response.status < 500 {
            self.auth.accepted(&response.sent);
        }
        response.into_result(self.clock.as_ref())
    }

    /// Authorizes, sends and reads the whole body within the request timeout.
    async fn exchange(&self, url: &Url) -> Result<Raw, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        self.auth
            .authorize(&Method::GET, url, &mut headers, &[])
            .await
            .map_err(Error::Auth)?;
        let sent = headers.clone();
        let request = self.http.get(url.clone()).headers(headers);
        let exchange = async {
            let response = request
                .send()
                .await
                .map_err(|e| transport_error(url, &e, self.request_timeout))?;
            let status = response.status().as_u16();
            let header = |name: http::header::HeaderName| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let content_type = header(http::header::CONTENT_TYPE);
            let retry_after = header(http::header::RETRY_AFTER);
            let request_id = header(http::header::HeaderName::from_static("x-request-id"));
            let body = response
                .bytes()
                .await
                .map_err(|e| transport_error(url, &e, self.request_timeout))?;
            Ok::<_, Error>(Raw {
                sent,
                status,
                content_type,
                retry_after,
                request_id,
                body,
            })
        };
        match tokio::time::timeout(self.request_timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                url: url.to_string(),
                after: self.request_timeout,
            }),
        }
    }
}

/// A response read to the end, with the headers of the request it answers.
struct Raw {
    sent: HeaderMap,
    status: u16,
    content_type: Option<String>,
    retry_after: Option<String>,
    request_id: Option<String>,
    body: Bytes,
}

impl Raw {
    fn api_error(&self) -> ApiError {
        decode::api_error(self.status, &self.body, self.request_id.as_deref())
    }

    fn is_auth_failure(&self) -> bool {
        if self.status == 401 {
            return true;
        }
        (400..500).contains(&self.status)
            && self
                .api_error()
                .code
                .is_some_and(|c| AUTH_CODES.iter().any(|a| a.eq_ignore_ascii_case(&c)))
    }

    fn into_result(self, clock: &dyn Clock) -> Result<Success, Error> {
        match self.status {
            200..=299 => Ok(Success {
                body: self.body,
                content_type: self.content_type,
            }),
            401 => Err(Error::Unauthorized(self.api_error())),
            403 => Err(Error::Forbidden(self.api_error())),
            404 => Err(Error::NotFound(self.api_error())),
            429 => Err(Error::Throttled {
                retry_after: self
                    .retry_after
                    .as_deref()
                    .and_then(|v| retry_after::parse_retry_after(v, clock.now())),
                error: self.api_error(),
            }),
            400..=499 => Err(Error::BadRequest(self.api_error())),
            500..=599 => Err(Error::ServerError(self.api_error())),
            _ => Err(Error::UnexpectedStatus(self.api_error())),
        }
    }
}

fn transport_error(url: &Url, e: &reqwest::Error, timeout: Duration) -> Error {
    if e.is_timeout() {
        return Error::Timeout {
            url: url.to_string(),
            after: timeout,
        };
    }
    Error::Transport {
        url: url.to_string(),
        message: chain(e),
        connect: e.is_connect(),
    }
}

/// The error and its sources as one line; reqwest's URL-bearing prefix is
/// kept (URLs carry no credentials: those travel in headers).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
