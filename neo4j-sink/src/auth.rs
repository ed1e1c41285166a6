//! Authenticated delivery: the Knative OIDC sender identity.
//!
//! With Knative's `authentication.oidc` feature, senders put a JWT in
//! `Authorization: Bearer`, issued for the sink's audience. When the sink is
//! configured with an audience, every event request must carry such a token:
//! a valid RS256/ES256 signature by a key of the issuer's JWKS, the configured
//! issuer and audience, an unexpired `exp`, and, if an allow-list is set, a
//! `sub` on it. Failures are 401 (no or bad token) or 403 (good token, sender
//! not allowed). While the keys are not loaded yet the answer is 503: that is
//! the sink's problem, and a 401 would make Knative drop the event.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{decode, decode_header, errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use url::Url;

/// Where the issuer's public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS document on disk (e.g. mounted from a ConfigMap); reread on refresh.
    File(PathBuf),
    /// A JWKS URL, fetched at start, on refresh and when a token names an unknown key.
    Url(Url),
}

/// Settings of authenticated delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// Required `aud`.
    pub audience: String,
    /// Required `iss`.
    pub issuer: String,
    /// The issuer's keys.
    pub jwks: JwksSource,
    /// Allowed `sub` values; `None` allows any subject.
    pub allowed_subjects: Option<BTreeSet<String>>,
    /// How often the keys are reloaded.
    pub refresh: Duration,
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No usable bearer token, or a token that fails validation (401).
    Unauthorized(String),
    /// A valid token whose subject is not allowed (403).
    Forbidden(String),
    /// The issuer's keys are not loaded yet (503).
    KeysUnavailable(String),
}

struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
}

/// Checks bearer tokens against the configured issuer, audience and keys.
pub struct Verifier {
    config: OidcConfig,
    keys: RwLock<Option<Arc<Vec<Key>>>>,
    last_load: Mutex<Option<Instant>>,
    last_error: Mutex<Option<String>>,
    min_reload_interval: Duration,
    http: reqwest::Client,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Shortest time between two reloads triggered by unknown key ids.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// Parses a JWKS document, keeping the RS256 and ES256 signing keys.
fn parse_jwks(bytes: &[u8]) -> Result<Vec<Key>, String> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let items = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "the JWKS has no `keys` array".to_string())?;
    let mut keys = Vec::new();
    for item in items {
        // One key of a type this sink does not use must not spoil the others.
        let Ok(jwk) = serde_json::from_value::<Jwk>(item.clone()) else {
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            continue;
        }
        let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256))
                if p.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => continue,
        };
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            keys.push(Key {
                kid: jwk.common.key_id.clone(),
                alg,
                key,
            });
        }
    }
    if keys.is_empty() {
        return Err("the JWKS holds no RS256 or ES256 signing key".into());
    }
    Ok(keys)
}

impl Verifier {
    /// Creates the verifier and loads the keys once. A JWKS file that cannot
    /// be read is an error (a configuration problem); a JWKS URL that cannot
    /// be fetched yet is not: requests get 503 until it loads.
    pub async fn new(config: OidcConfig) -> Result<Arc<Self>, String> {
        Self::build(config, MIN_RELOAD_INTERVAL).await
    }

    async fn build(config: OidcConfig, min_reload_interval: Duration) -> Result<Arc<Self>, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
        let verifier = Arc::new(Verifier {
            config,
            keys: RwLock::new(None),
            last_load: Mutex::new(None),
            last_error: Mutex::new(None),
            min_reload_interval,
            http,
        });
        match (verifier.load().await, &verifier.config.jwks) {
            (Ok(_), _) => {}
            (Err(e), JwksSource::File(path)) => {
                return Err(format!("OIDC_JWKS_FILE {}: {e}", path.display()));
            }
            (Err(e), JwksSource::Url(url)) => {
                tracing::warn!(error = %e, jwks_url = %url, "cannot load the OIDC keys yet; requests get 503 until they load");
            }
        }
        Ok(verifier)
    }

    /// Reads or fetches the JWKS and replaces the keys; returns how many keys were loaded.
    pub async fn load(&self) -> Result<usize, String> {
        *self.last_load.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        let result = self.fetch().await.and_then(|bytes| parse_jwks(&bytes));
        match result {
            Ok(keys) => {
                let n = keys.len();
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(keys));
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                tracing::debug!(keys = n, "OIDC keys loaded");
                Ok(n)
            }
            Err(e) => {
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<u8>, String> {
        match &self.config.jwks {
            JwksSource::File(path) => tokio::fs::read(path)
                .await
                .map_err(|e| format!("cannot read the JWKS file: {e}")),
            JwksSource::Url(url) => {
                let response = self
                    .http
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| format!("cannot fetch the JWKS from {url}: {e}"))?;
                if !response.status().is_success() {
                    return Err(format!(
                        "fetching the JWKS from {url} returned {}",
                        response.status()
                    ));
                }
                response
                    .bytes()
                    .await
                    .map(|b| b.to_vec())
                    .map_err(|e| format!("reading the JWKS from {url}: {e}"))
            }
        }
    }

    /// Reloads the keys every `refresh` interval, keeping the old keys on failure.
    pub fn spawn_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.config.refresh);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = me.load().await {
                    tracing::warn!(error = %e, "reloading the OIDC keys failed; keeping the previous keys");
                }
            }
        })
    }

    fn current_keys(&self) -> Option<Arc<Vec<Key>>> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn may_reload(&self) -> bool {
        matches!(self.config.jwks, JwksSource::Url(_))
            && self
                .last_load
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_none_or(|at| at.elapsed() >= self.min_reload_interval)
    }

    /// Checks the `Authorization` header value; returns the token subject.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Option<String>, AuthError> {
        let token = authorization
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                AuthError::Unauthorized(
                    "an `Authorization: Bearer <token>` header with an OIDC token is required"
                        .into(),
                )
            })?;
        let header = decode_header(token)
            .map_err(|e| AuthError::Unauthorized(format!("the bearer token is not a JWT: {e}")))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::Unauthorized(format!(
                "token algorithm {:?} is not accepted; use RS256 or ES256",
                header.alg
            )));
        }
        let mut candidates = self.candidates(header.alg, header.kid.as_deref())?;
        if candidates.is_empty() && self.may_reload() {
            if let Err(e) = self.load().await {
                tracing::warn!(error = %e, "reloading the OIDC keys for an unknown key id failed");
            }
            candidates = self.candidates(header.alg, header.kid.as_deref())?;
        }
        if candidates.is_empty() {
            return Err(AuthError::Unauthorized(format!(
                "no {:?} key{} in the issuer's JWKS",
                header.alg,
                header
                    .kid
                    .as_deref()
                    .map(|k| format!(" with id {k:?}"))
                    .unwrap_or_default()
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.config.audience]);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 30;
        let mut last = String::from("invalid signature");
        let mut claims = None;
        for key in candidates.iter() {
            match decode::<Claims>(token, key, &validation) {
                Ok(data) => {
                    claims = Some(data.claims);
                    break;
                }
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
                    last = "invalid signature".into()
                }
                Err(e) => return Err(AuthError::Unauthorized(describe(e.kind(), &self.config))),
            }
        }
        let claims = claims
            .ok_or_else(|| AuthError::Unauthorized(format!("the token is not valid: {last}")))?;
        if let Some(allowed) = &self.config.allowed_subjects {
            match &claims.sub {
                Some(sub) if allowed.contains(sub) => {}
                Some(sub) => {
                    return Err(AuthError::Forbidden(format!(
                        "sender {sub:?} is not allowed to deliver events (OIDC_ALLOWED_SUBJECTS)"
                    )))
                }
                None => {
                    return Err(AuthError::Forbidden(
                        "the token has no subject and OIDC_ALLOWED_SUBJECTS is set".into(),
                    ))
                }
            }
        }
        Ok(claims.sub)
    }

    fn candidates(&self, alg: Algorithm, kid: Option<&str>) -> Result<Vec<DecodingKey>, AuthError> {
        let keys = self.current_keys().ok_or_else(|| {
            let why = self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_default();
            AuthError::KeysUnavailable(format!("the OIDC keys are not loaded yet: {why}"))
        })?;
        Ok(keys
            .iter()
            .filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid))
            .map(|k| k.key.clone())
            .collect())
    }
}

fn describe(kind: &ErrorKind, config: &OidcConfig) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired".into(),
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".into(),
        ErrorKind::InvalidAudience => format!("the token audience is not {:?}", config.audience),
        ErrorKind::InvalidIssuer => format!("the token issuer is not {:?}", config.issuer),
        ErrorKind::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
        other => format!("the token is not valid: {other:?}"),
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
