//! Authenticated delivery: the Knative OIDC sender identity.
//!
//! With Knative's `authentication.oidc` feature, senders put a JWT in
//! `Authorization: Bearer`, issued for the sink's audience. When the sink is
//! configured with an audience, every event request must carry such a token:
//! a compact JWS (RFC 7515) signed with RS256 or ES256 by a key of the
//! issuer's JWKS, without a `crit` header the sink does not understand, with
//! the configured issuer and audience, an `exp` not passed and an `nbf` (if
//! any) reached, both with [`LEEWAY`], and, if an allow-list is set, a `sub`
//! on it (RFC 7519 section 7.2).
//!
//! The answers follow what Knative does with them: it retries 503 and never
//! retries 401 or 403. So 401 and 403 are only given for a token that can
//! never pass; a token whose key is not loaded (the issuer rotated its keys
//! and the sink has not seen the new ones yet) makes the sink re-read its keys
//! (rate-limited, one reload at a time) and, if the key is still unknown,
//! answers 503 with `Retry-After`, so events sent during a rotation arrive.
//!
//! The keys are re-read every `refresh` interval. A key file or URL that
//! holds a key set, even an empty one, replaces the keys: a key removed from
//! it is no longer accepted. One that cannot be read or parsed keeps the last
//! good keys, with a warning and `neo4j_sink_auth_keys_stale` = 1.

use crate::metrics::Metrics;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{decode, errors::ErrorKind, Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncReadExt;
use url::Url;

/// Where the issuer's public keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS document on disk (e.g. mounted from a ConfigMap); reread on refresh
    /// and when a token names a key that is not loaded.
    File(PathBuf),
    /// A JWKS URL, fetched at start, on refresh and when a token names a key
    /// that is not loaded.
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
    /// Shortest time between the start of two key reloads caused by a token
    /// whose key is not loaded (`OIDC_JWKS_MIN_RELOAD_SECS`).
    pub min_reload: Duration,
}

/// Allowed clock difference for `exp` and `nbf` (RFC 7519 sections 4.1.4 and 4.1.5), in seconds.
pub const LEEWAY: f64 = 30.0;

/// Largest JWKS document the sink reads (file or URL); real ones are a few kilobytes.
pub const MAX_JWKS_BYTES: u64 = 1024 * 1024;

/// Why a token was refused; the `reason` label of `neo4j_sink_auth_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// No `Authorization: Bearer` header (401).
    MissingToken,
    /// Not a compact JWS, or a header or payload that is not base64url JSON (401).
    Malformed,
    /// An algorithm other than RS256 and ES256 (401).
    Algorithm,
    /// A `crit` header (RFC 7515 section 4.1.11) the sink does not understand, or a broken one (401).
    Crit,
    /// The token names a key that is not loaded, even after a reload (503).
    UnknownKey,
    /// No key set was ever loaded (a JWKS URL not reachable since the start) (503).
    KeysUnavailable,
    /// The signature does not verify with the key the token names (401).
    Signature,
    /// `exp` passed, leeway included (401).
    Expired,
    /// `nbf` not reached, leeway included (401).
    NotYetValid,
    /// `iss` is not the configured issuer (401).
    Issuer,
    /// `aud` does not contain the configured audience (401).
    Audience,
    /// A required claim is missing or a claim has the wrong type (401).
    Claims,
    /// A valid token of a sender not in the allow-list (403).
    Subject,
}

impl Reason {
    /// Every reason, for pre-registering the metric labels.
    pub const ALL: [Reason; 13] = [
        Reason::MissingToken,
        Reason::Malformed,
        Reason::Algorithm,
        Reason::Crit,
        Reason::UnknownKey,
        Reason::KeysUnavailable,
        Reason::Signature,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::Issuer,
        Reason::Audience,
        Reason::Claims,
        Reason::Subject,
    ];

    /// The metric label value.
    pub fn label(self) -> &'static str {
        match self {
            Reason::MissingToken => "missing_token",
            Reason::Malformed => "malformed",
            Reason::Algorithm => "algorithm",
            Reason::Crit => "crit",
            Reason::UnknownKey => "unknown_key",
            Reason::KeysUnavailable => "keys_unavailable",
            Reason::Signature => "signature",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::Issuer => "issuer",
            Reason::Audience => "audience",
            Reason::Claims => "claims",
            Reason::Subject => "subject",
        }
    }
}

/// Why a request was not authenticated. Never holds token bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct AuthError {
    /// The class of the refusal; decides the status code.
    pub reason: Reason,
    /// What is wrong, for the answer body.
    pub detail: String,
    /// For the 503 reasons: when a retry can find the key (the next reload allowed).
    pub retry_after: Option<Duration>,
}

impl AuthError {
    fn new(reason: Reason, detail: impl Into<String>) -> Self {
        AuthError {
            reason,
            detail: detail.into(),
            retry_after: None,
        }
    }
}

struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

/// What a JWKS document yielded.
struct KeySet {
    keys: Vec<Key>,
    /// Entries that are not RS256/ES256 signing keys, or not valid keys.
    skipped: usize,
}

#[derive(Default)]
struct KeyState {
    /// The keys in use; `None` until a key set was loaded once.
    keys: Option<Arc<Vec<Key>>>,
    /// Load attempts so far (successful or not).
    attempts: u64,
    /// Start of the last load attempt.
    last_attempt: Option<Instant>,
    /// Why the last load attempt failed, if it did.
    last_error: Option<String>,
}

/// Checks bearer tokens against the configured issuer, audience and keys.
pub struct Verifier {
    config: OidcConfig,
    state: RwLock<KeyState>,
    /// Held while the keys are (re)loaded: one load at a time, and requests
    /// with an unknown key wait for the load in progress instead of starting another.
    reload: tokio::sync::Mutex<()>,
    metrics: Metrics,
    http: reqwest::Client,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A value from a token or key file, quoted and cut short, for messages and logs.
fn shown(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{:?}…", &value[..end]),
        None => format!("{value:?}"),
    }
}

/// Strict base64url without padding (RFC 7515 section 2): other characters,
/// a length of 4n+1 and non-zero unused bits are refused.
fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0).then_some(out)
}

/// Header parameters RFC 7515 section 4.1 registers for JWS; `crit` must not name them.
const REGISTERED_HEADERS: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];

/// RFC 7515 section 4.1.11. This sink understands no header extension, so any
/// well-formed `crit` makes the token invalid; a malformed one does too.
fn check_crit(header: &Map<String, Value>) -> Result<(), AuthError> {
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    let refuse = |why: String| {
        Err(AuthError::new(
            Reason::Crit,
            format!("the token's `crit` header {why} (RFC 7515 section 4.1.11)"),
        ))
    };
    let Some(list) = crit.as_array() else {
        return refuse("is not a list of header parameter names".into());
    };
    if list.is_empty() {
        return refuse("is an empty list, which is not allowed".into());
    }
    let mut names = Vec::new();
    for item in list {
        let Some(name) = item.as_str() else {
            return refuse("holds a value that is not a header parameter name".into());
        };
        if REGISTERED_HEADERS.contains(&name) {
            return refuse(format!(
                "names the registered header parameter {}, which is not allowed",
                shown(name)
            ));
        }
        if !header.contains_key(name) {
            return refuse(format!("names {}, which is not in the header", shown(name)));
        }
        if names.contains(&name) {
            return refuse(format!("names {} twice", shown(name)));
        }
        names.push(name);
    }
    let names: Vec<String> = names.into_iter().map(shown).collect();
    refuse(format!(
        "requires the extension{} {}, which this sink does not understand",
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    ))
}

/// The parts of a token header the sink looks at.
struct TokenHeader {
    alg: Algorithm,
    kid: Option<String>,
}

fn parse_header(segment: &str) -> Result<TokenHeader, AuthError> {
    let header: Map<String, Value> = b64url_decode(segment)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            AuthError::new(
                Reason::Malformed,
                "the token header is not a base64url-encoded JSON object",
            )
        })?;
    check_crit(&header)?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) if a == "RS256" => Algorithm::RS256,
        Some(Value::String(a)) if a == "ES256" => Algorithm::ES256,
        Some(Value::String(a)) => {
            return Err(AuthError::new(
                Reason::Algorithm,
                format!(
                    "token algorithm {} is not accepted; use RS256 or ES256",
                    shown(a)
                ),
            ))
        }
        _ => {
            return Err(AuthError::new(
                Reason::Malformed,
                "the token header has no `alg` string",
            ))
        }
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => {
            return Err(AuthError::new(
                Reason::Malformed,
                "the token header's `kid` is not a string",
            ))
        }
    };
    Ok(TokenHeader { alg, kid })
}

/// A NumericDate claim (RFC 7519 section 2): a JSON number of seconds, maybe fractional.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or_else(|| {
            AuthError::new(
                Reason::Claims,
                format!("the token's `{name}` is out of range"),
            )
        }),
        Some(_) => Err(AuthError::new(
            Reason::Claims,
            format!("the token's `{name}` is not a NumericDate (a number of seconds since 1970)"),
        )),
    }
}

/// Seconds since 1970 now, with fractions.
fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Parses a JWKS document, keeping the RS256 and ES256 signing keys. An empty
/// document (nothing but white space) and an empty `keys` list are key sets
/// without keys; anything else that is not a JWKS is an error.
fn parse_jwks(bytes: &[u8]) -> Result<KeySet, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(KeySet {
            keys: Vec::new(),
            skipped: 0,
        });
    }
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let items = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "the JWKS has no `keys` array".to_string())?;
    let mut keys = Vec::new();
    let mut skipped = 0;
    for item in items {
        // One key of a type this sink does not use must not spoil the others.
        let Ok(jwk) = serde_json::from_value::<Jwk>(item.clone()) else {
            skipped += 1;
            continue;
        };
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            skipped += 1;
            continue;
        }
        let alg = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256))
                if p.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => {
                skipped += 1;
                continue;
            }
        };
        match DecodingKey::from_jwk(&jwk) {
            Ok(key) => keys.push(Key {
                kid: jwk.common.key_id.clone(),
                alg,
                key,
            }),
            Err(_) => skipped += 1,
        }
    }
    Ok(KeySet { keys, skipped })
}

/// Reads at most [`MAX_JWKS_BYTES`] (plus one, to notice a larger document).
async fn read_capped(mut reader: impl tokio::io::AsyncRead + Unpin) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_JWKS_BYTES + 1)
        .read_to_end(&mut bytes)
        .await?;
    Ok(bytes)
}

fn check_size(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.len() as u64 > MAX_JWKS_BYTES {
        return Err(format!(
            "the JWKS is larger than {MAX_JWKS_BYTES} bytes; a key set is a few kilobytes"
        ));
    }
    Ok(bytes)
}

impl Verifier {
    /// Creates the verifier and loads the keys once. A JWKS file that cannot
    /// be read or parsed is an error (a configuration problem); a JWKS URL that
    /// cannot be fetched yet is not: requests get 503 until it loads. A key set
    /// without keys is no error either (every token gets 503 until keys appear).
    pub async fn new(config: OidcConfig, metrics: Metrics) -> Result<Arc<Self>, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
        let verifier = Arc::new(Verifier {
            config,
            state: RwLock::new(KeyState::default()),
            reload: tokio::sync::Mutex::new(()),
            metrics,
            http,
        });
        let loaded = {
            let _one_at_a_time = verifier.reload.lock().await;
            verifier.load_now().await
        };
        match (loaded, &verifier.config.jwks) {
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

    /// Reads or fetches the JWKS and replaces the keys; returns how many keys
    /// were loaded. On failure the keys stay as they were.
    pub async fn load(&self) -> Result<usize, String> {
        let _one_at_a_time = self.reload.lock().await;
        self.load_now().await
    }

    /// One load attempt; the caller holds `reload`.
    async fn load_now(&self) -> Result<usize, String> {
        self.write_state().last_attempt = Some(Instant::now());
        let result = self.fetch().await.and_then(|bytes| parse_jwks(&bytes));
        let mut state = self.write_state();
        state.attempts += 1;
        match result {
            Ok(set) => {
                let n = set.keys.len();
                let before = kids(state.keys.as_deref().map(Vec::as_slice));
                let after = kids(Some(&set.keys));
                state.keys = Some(Arc::new(set.keys));
                state.last_error = None;
                drop(state);
                self.metrics
                    .auth_key_reloads
                    .with_label_values(&["loaded"])
                    .inc();
                self.metrics.auth_keys.set(n as i64);
                self.metrics.auth_keys_stale.set(0);
                if set.skipped > 0 {
                    tracing::warn!(
                        skipped = set.skipped,
                        keys = n,
                        "the OIDC JWKS holds entries that are not RS256/ES256 signing keys; they are ignored"
                    );
                }
                if n == 0 {
                    tracing::warn!(
                        "the OIDC JWKS holds no RS256/ES256 signing key: every token gets 503 until keys appear"
                    );
                } else if before != after {
                    tracing::info!(keys = n, key_ids = ?after, "OIDC keys loaded");
                } else {
                    tracing::debug!(keys = n, "OIDC keys reloaded, unchanged");
                }
                Ok(n)
            }
            Err(e) => {
                state.last_error = Some(e.clone());
                let kept = state.keys.as_ref().map(|k| k.len());
                drop(state);
                self.metrics
                    .auth_key_reloads
                    .with_label_values(&["failed"])
                    .inc();
                self.metrics.auth_keys_stale.set(1);
                if let Some(kept) = kept {
                    tracing::warn!(
                        error = %e,
                        keys_kept = kept,
                        "cannot reload the OIDC keys; keeping the keys of the last good load until the key source is readable again (neo4j_sink_auth_keys_stale = 1)"
                    );
                }
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<Vec<u8>, String> {
        match &self.config.jwks {
            JwksSource::File(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .map_err(|e| format!("cannot read the JWKS file: {e}"))?;
                let bytes = read_capped(file)
                    .await
                    .map_err(|e| format!("cannot read the JWKS file: {e}"))?;
                check_size(bytes)
            }
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
                let mut bytes = Vec::new();
                let mut response = response;
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| format!("reading the JWKS from {url}: {e}"))?
                {
                    bytes.extend_from_slice(&chunk);
                    if bytes.len() as u64 > MAX_JWKS_BYTES {
                        break;
                    }
                }
                check_size(bytes)
            }
        }
    }

    /// Reloads the keys every `refresh` interval, keeping the old keys when
    /// the source cannot be read or parsed.
    pub fn spawn_refresh(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.config.refresh);
            tick.tick().await;
            loop {
                tick.tick().await;
                // Failures are logged and counted by the load itself.
                let _ = me.load().await;
            }
        })
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, KeyState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, KeyState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The keys that may have signed a token of `alg` and `kid` (none while no
    /// key set is loaded), and the number of load attempts they come from.
    fn candidates(&self, alg: Algorithm, kid: Option<&str>) -> (Option<Vec<DecodingKey>>, u64) {
        let state = self.read_state();
        let keys = state.keys.as_ref().map(|keys| {
            keys.iter()
                .filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid))
                .map(|k| k.key.clone())
                .collect()
        });
        (keys, state.attempts)
    }

    /// The algorithm of the loaded key with this id, if there is one.
    fn algorithm_of(&self, kid: &str) -> Option<Algorithm> {
        let state = self.read_state();
        let keys = state.keys.as_ref()?;
        keys.iter()
            .find(|k| k.kid.as_deref() == Some(kid))
            .map(|k| k.alg)
    }

    /// How long until a token with an unknown key may cause the next reload (at least 1 s).
    fn next_reload_in(&self) -> Duration {
        let waited = self
            .read_state()
            .last_attempt
            .map_or(self.config.min_reload, |at| at.elapsed());
        let left = self.config.min_reload.saturating_sub(waited);
        Duration::from_secs(left.as_secs_f64().ceil() as u64).max(Duration::from_secs(1))
    }

    /// Reloads the keys for a token whose key is not loaded: at most once per
    /// `min_reload`, one load at a time, and not at all when another request
    /// reloaded since this one looked (`seen` load attempts).
    async fn reload_for_unknown_key(&self, seen: u64) {
        let _one_at_a_time = self.reload.lock().await;
        let (attempts, last) = {
            let state = self.read_state();
            (state.attempts, state.last_attempt)
        };
        if attempts != seen || last.is_some_and(|at| at.elapsed() < self.config.min_reload) {
            return;
        }
        // Failures are logged and counted by the load itself.
        let _ = self.load_now().await;
    }

    /// Checks the `Authorization` header value; returns the token subject.
    /// Refusals are counted in `neo4j_sink_auth_refused_total` and logged at
    /// debug, without any byte of the token.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Option<String>, AuthError> {
        let result = self.check(authorization).await;
        if let Err(e) = &result {
            self.metrics
                .auth_refused
                .with_label_values(&[e.reason.label()])
                .inc();
            tracing::debug!(reason = e.reason.label(), detail = %e.detail, "OIDC token refused");
        }
        result
    }

    async fn check(&self, authorization: Option<&str>) -> Result<Option<String>, AuthError> {
        let token = bearer(authorization).ok_or_else(|| {
            AuthError::new(
                Reason::MissingToken,
                "an `Authorization: Bearer <token>` header with an OIDC token is required",
            )
        })?;
        let parts: Vec<&str> = token.split('.').collect();
        match parts.len() {
            3 => {}
            5 => {
                return Err(AuthError::new(
                    Reason::Malformed,
                    "the bearer token is an encrypted JWT (JWE); a signed JWT (JWS) is required",
                ))
            }
            _ => {
                return Err(AuthError::new(
                    Reason::Malformed,
                    "the bearer token is not a JWT (three base64url parts separated by dots)",
                ))
            }
        }
        let header = parse_header(parts[0])?;
        let mut found = self.candidates(header.alg, header.kid.as_deref());
        if !matches!(&found.0, Some(keys) if !keys.is_empty()) {
            // A key id is never reused for another algorithm: a token naming a
            // loaded key with the wrong `alg` is refused, not waited for.
            if let Some(kid) = header.kid.as_deref() {
                if let Some(other) = self.algorithm_of(kid) {
                    return Err(AuthError::new(
                        Reason::Algorithm,
                        format!(
                            "the token says {:?} but the key {} is an {other:?} key",
                            header.alg,
                            shown(kid)
                        ),
                    ));
                }
            }
            // First the checks that need no key: a token that fails them can
            // never pass, and gets its 401/403 now, without a reload.
            let claims = payload(parts[1])?;
            self.check_claims(&claims, now())?;
            self.reload_for_unknown_key(found.1).await;
            found = self.candidates(header.alg, header.kid.as_deref());
        }
        let keys = match found.0 {
            Some(keys) if !keys.is_empty() => keys,
            Some(_) => {
                return Err(AuthError {
                    reason: Reason::UnknownKey,
                    detail: format!(
                        "no {:?} key{} in the issuer's JWKS yet (the keys may be rotating); retry later",
                        header.alg,
                        header
                            .kid
                            .as_deref()
                            .map(|k| format!(" with id {}", shown(k)))
                            .unwrap_or_default()
                    ),
                    retry_after: Some(self.next_reload_in()),
                })
            }
            None => {
                let why = self.read_state().last_error.clone().unwrap_or_default();
                return Err(AuthError {
                    reason: Reason::KeysUnavailable,
                    detail: format!("the OIDC keys are not loaded yet: {why}"),
                    retry_after: Some(self.next_reload_in()),
                });
            }
        };
        // jsonwebtoken checks the signature only; the claims are checked below.
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        let mut claims = None;
        for key in &keys {
            match decode::<Map<String, Value>>(token, key, &validation) {
                Ok(data) => {
                    claims = Some(data.claims);
                    break;
                }
                Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {}
                Err(e) => return Err(AuthError::new(Reason::Malformed, describe(e.kind()))),
            }
        }
        let claims = claims.ok_or_else(|| {
            AuthError::new(
                Reason::Signature,
                format!(
                    "the token is not valid: invalid signature for the {:?} key{}",
                    header.alg,
                    header
                        .kid
                        .as_deref()
                        .map(|k| format!(" {}", shown(k)))
                        .unwrap_or_else(|| "s of the issuer".into())
                ),
            )
        })?;
        self.check_claims(&claims, now())
    }

    /// RFC 7519 section 7.2 on the claims: `exp`, `nbf`, `iss`, `aud`, then the
    /// allow-list. `now` is seconds since 1970.
    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: f64,
    ) -> Result<Option<String>, AuthError> {
        let exp = numeric_date(claims, "exp")?
            .ok_or_else(|| AuthError::new(Reason::Claims, "the token has no `exp` claim"))?;
        if now >= exp + LEEWAY {
            return Err(AuthError::new(Reason::Expired, "the token has expired"));
        }
        if let Some(nbf) = numeric_date(claims, "nbf")? {
            if now + LEEWAY < nbf {
                return Err(AuthError::new(
                    Reason::NotYetValid,
                    "the token is not valid yet (nbf is in the future)",
                ));
            }
        }
        match claims.get("iss") {
            None => {
                return Err(AuthError::new(
                    Reason::Claims,
                    "the token has no `iss` claim",
                ))
            }
            Some(Value::String(iss)) if *iss == self.config.issuer => {}
            Some(_) => {
                return Err(AuthError::new(
                    Reason::Issuer,
                    format!("the token issuer is not {:?}", self.config.issuer),
                ))
            }
        }
        let audience_ok = match claims.get("aud") {
            None => {
                return Err(AuthError::new(
                    Reason::Claims,
                    "the token has no `aud` claim",
                ))
            }
            Some(Value::String(aud)) => *aud == self.config.audience,
            Some(Value::Array(list)) if list.iter().all(Value::is_string) => list
                .iter()
                .any(|a| a.as_str() == Some(&self.config.audience)),
            Some(_) => {
                return Err(AuthError::new(
                    Reason::Claims,
                    "the token's `aud` is neither a string nor a list of strings",
                ))
            }
        };
        if !audience_ok {
            return Err(AuthError::new(
                Reason::Audience,
                format!("the token audience is not {:?}", self.config.audience),
            ));
        }
        let sub = match claims.get("sub") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(AuthError::new(
                    Reason::Claims,
                    "the token's `sub` is not a string",
                ))
            }
        };
        if let Some(allowed) = &self.config.allowed_subjects {
            match &sub {
                Some(s) if allowed.contains(s) => {}
                Some(s) => {
                    return Err(AuthError::new(
                        Reason::Subject,
                        format!(
                            "sender {} is not allowed to deliver events (OIDC_ALLOWED_SUBJECTS)",
                            shown(s)
                        ),
                    ))
                }
                None => {
                    return Err(AuthError::new(
                        Reason::Subject,
                        "the token has no subject and OIDC_ALLOWED_SUBJECTS is set",
                    ))
                }
            }
        }
        Ok(sub)
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is case-insensitive, RFC 7235).
fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The token payload as a JSON object, not yet verified.
fn payload(segment: &str) -> Result<Map<String, Value>, AuthError> {
    b64url_decode(segment)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            AuthError::new(
                Reason::Malformed,
                "the token payload is not a base64url-encoded JSON object",
            )
        })
}

/// The key ids of a key set, sorted, for the log.
fn kids(keys: Option<&[Key]>) -> Vec<String> {
    let mut ids: Vec<String> = keys
        .unwrap_or_default()
        .iter()
        .map(|k| {
            k.kid
                .as_deref()
                .map_or_else(|| "-".into(), |id| id.chars().take(64).collect())
        })
        .collect();
    ids.sort();
    ids
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::Base64(_) => "the token is not valid base64url".into(),
        ErrorKind::Json(_) => "the token header or payload is not valid JSON".into(),
        ErrorKind::Utf8(_) => "the token is not valid UTF-8".into(),
        ErrorKind::InvalidToken => "the bearer token is not a JWT".into(),
        other => format!("the token is not valid: {other:?}"),
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
