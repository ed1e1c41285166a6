//! Server-side verification of SDK-HMAC-SHA256 AK/SK signatures, both
//! variants of cts-api.md §4: A (Huawei APIG signing guide, `Access=`) and
//! B (gophertelekomcloud, `Credential=<ak>/<scope>` with a derived key).
//!
//! This is the emulator's own canonicalization, written from the spec and
//! checked against the official vectors; it shares no code with any client.
//!
//! Clients canonicalize in one of two ways (otc-sdk-facts.md #4): by the
//! signing guide (query keys sorted byte-wise, every value of a repeated key,
//! header values trimmed, repeated headers joined by `,`), or as OTC's Go SDK
//! does (keys sorted case-insensitively, only the first value of a repeated
//! key or header, header values with blank runs collapsed but not trimmed, a
//! POST without body signing an empty query and the query string's hash as
//! payload hash). The verifier tries both, in either signature form, so SDK
//! traffic is never refused; a signature that matches none is.

use axum::http::HeaderMap;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Largest accepted difference between `X-Sdk-Date` and server time.
pub(crate) const MAX_SKEW_SECS: i64 = 15 * 60;

/// The parts of an incoming request a signature covers.
#[derive(Debug)]
pub(crate) struct SignedRequest<'a> {
    pub method: &'a str,
    /// Path as received on the wire (percent-encoded).
    pub path: &'a str,
    /// Raw query string without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The request URI's authority, standing in for `Host` on HTTP/2.
    pub authority: Option<&'a str>,
    pub body: &'a [u8],
}

/// Why a signature was refused. Messages follow API Gateway's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AkskError {
    /// The Authorization header is not a well-formed SDK-HMAC-SHA256 header.
    Malformed(String),
    /// No such access key.
    UnknownAk(String),
    /// `X-Sdk-Date` missing, unparsable or not among the signed headers.
    Date(String),
    /// `X-Sdk-Date` more than 15 minutes away from server time.
    Expired {
        signature_time: String,
        server_time: String,
    },
    /// The signature does not match.
    Mismatch,
}

impl std::fmt::Display for AkskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AkskError::Malformed(m) => write!(f, "Incorrect IAM authentication information: {m}"),
            AkskError::UnknownAk(ak) => {
                write!(f, "Incorrect IAM authentication information: Get secretKey failed,ak:{ak},err:ak not exist")
            }
            AkskError::Date(m) => write!(f, "Incorrect IAM authentication information: {m}"),
            AkskError::Expired { signature_time, server_time } => write!(
                f,
                "Incorrect IAM authentication information: signature expired, signature time:{signature_time},server time:{server_time}"
            ),
            AkskError::Mismatch => f.write_str("Incorrect IAM authentication information: verify aksk signature fail"),
        }
    }
}

/// A parsed Authorization header.
#[derive(Debug, PartialEq, Eq)]
struct AuthHeader {
    ak: String,
    /// `Some(scope)` for variant B (`date/region/service/sdk_request`).
    scope: Option<String>,
    signed_headers: Vec<String>,
    signature: String,
}

/// Does this Authorization header claim an SDK-HMAC-SHA256 signature?
pub(crate) fn is_sdk_signature(authorization: &str) -> bool {
    authorization.trim_start().starts_with(ALGORITHM)
}

fn parse_authorization(value: &str) -> Result<AuthHeader, AkskError> {
    let rest = value.trim().strip_prefix(ALGORITHM).ok_or_else(|| {
        AkskError::Malformed(format!("authorization algorithm is not {ALGORITHM}"))
    })?;
    let (mut ak, mut scope, mut signed, mut sig) = (None, None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        let Some((k, v)) = part.split_once('=') else {
            return Err(AkskError::Malformed(format!(
                "authorization part `{part}` is not key=value"
            )));
        };
        match k.trim() {
            "Access" => ak = Some(v.trim().to_owned()),
            "Credential" => {
                let (a, s) = v
                    .trim()
                    .split_once('/')
                    .ok_or_else(|| AkskError::Malformed("Credential has no scope".into()))?;
                ak = Some(a.to_owned());
                scope = Some(s.to_owned());
            }
            "SignedHeaders" => {
                signed = Some(
                    v.trim()
                        .split(';')
                        .map(|h| h.trim().to_ascii_lowercase())
                        .collect::<Vec<_>>(),
                )
            }
            "Signature" => sig = Some(v.trim().to_ascii_lowercase()),
            other => {
                return Err(AkskError::Malformed(format!(
                    "unknown authorization part `{other}`"
                )))
            }
        }
    }
    match (ak, signed, sig) {
        (Some(ak), Some(signed_headers), Some(signature)) if !ak.is_empty() => Ok(AuthHeader {
            ak,
            scope,
            signed_headers,
            signature,
        }),
        _ => Err(AkskError::Malformed(
            "authorization needs Access (or Credential), SignedHeaders and Signature".into(),
        )),
    }
}

/// Percent-encodes every byte except `A-Z a-z 0-9 - _ . ~` (and `/` if asked).
fn encode(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn canonical_uri(raw_path: &str) -> String {
    let decoded: Vec<u8> = percent_decode_str(raw_path).collect();
    let mut uri = encode(&decoded, true);
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// Canonical URIs a client may have signed: the whole path decoded and
/// re-encoded with `/` kept (the OTC SDK, which encodes `URL.Path`), and
/// each segment decoded and re-encoded on its own (the signing guide). They
/// differ only for an encoded `/` (`%2F`) inside a segment.
fn canonical_uris(raw_path: &str) -> Vec<String> {
    let sdk = canonical_uri(raw_path);
    let mut guide = raw_path
        .split('/')
        .map(|seg| {
            let raw: Vec<u8> = percent_decode_str(seg).collect();
            encode(&raw, false)
        })
        .collect::<Vec<_>>()
        .join("/");
    if !guide.starts_with('/') {
        guide.insert(0, '/');
    }
    if !guide.ends_with('/') {
        guide.push('/');
    }
    if guide == sdk {
        vec![sdk]
    } else {
        vec![sdk, guide]
    }
}

fn join_pairs(ps: &[(String, String)]) -> String {
    ps.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Canonical query strings a client may have signed: `+` read as space or as
/// a literal plus; keys sorted byte-wise with every value of a repeated key
/// (the guide), or sorted case-insensitively with only the first value
/// (the SDK); the mixtures of the two are tried as well.
fn canonical_queries(raw: Option<&str>) -> Vec<String> {
    let raw = raw.unwrap_or("");
    let mut out = Vec::new();
    for plus_is_space in [true, false] {
        let mut pairs: Vec<(String, String)> = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                let dec = |s: &str| -> Vec<u8> {
                    let s = if plus_is_space {
                        s.replace('+', " ")
                    } else {
                        s.to_owned()
                    };
                    percent_decode_str(&s).collect()
                };
                (encode(&dec(k), false), encode(&dec(v), false))
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        let mut first_only: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .cloned()
            .collect();
        let mut sdk_all = pairs.clone();
        let mut sdk_first = first_only.clone();
        pairs.sort();
        first_only.sort();
        // The SDK sorts the keys case-insensitively (signer_helper.go:341);
        // a stable sort keeps the values of one key in their order.
        let by_lower_key = |a: &(String, String), b: &(String, String)| {
            a.0.to_ascii_lowercase().cmp(&b.0.to_ascii_lowercase())
        };
        sdk_all.sort_by(by_lower_key);
        sdk_first.sort_by(by_lower_key);
        for ps in [&pairs, &first_only, &sdk_all, &sdk_first] {
            out.push(join_pairs(ps));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Collapses every run of blanks to one space, keeping one at either end
/// if there was any (the SDK's header value rule, signer_helper.go:356-362).
fn collapse_blanks(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut in_blank = false;
    for c in value.chars() {
        if c == ' ' || c == '\t' {
            if !in_blank {
                out.push(' ');
            }
            in_blank = true;
        } else {
            out.push(c);
            in_blank = false;
        }
    }
    out
}

/// Most padded SDK header variants tried per request (see
/// [`canonical_headers`]); 4 headers with 4 candidates each.
const MAX_PADDED_VARIANTS: usize = 256;

/// Canonical header blocks a client may have signed: the guide's (values
/// trimmed, repeated headers joined by `,`; also with inner blanks
/// collapsed) and the SDK's (first value only, blank runs collapsed, outer
/// blank kept). An HTTP server receives header values without their outer
/// blanks, so for the SDK form each header the client set itself (not `host`
/// or `x-sdk-date`) may have carried one more blank at either end: those
/// variants are tried too, up to [`MAX_PADDED_VARIANTS`] blocks.
fn canonical_headers(
    signed: &[String],
    headers: &HeaderMap,
    authority: Option<&str>,
) -> Result<Vec<String>, AkskError> {
    let mut plain = String::new();
    let mut collapsed = String::new();
    // Per signed header, the values the SDK may have signed.
    let mut sdk_choices: Vec<Vec<String>> = Vec::new();
    for name in signed {
        let mut values: Vec<&str> = headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() && name == "host" {
            values.extend(authority);
        }
        let Some(first) = values.first() else {
            return Err(AkskError::Malformed(format!(
                "signed header `{name}` is missing from the request"
            )));
        };
        let value = values.join(",");
        plain.push_str(&format!("{name}:{}\n", value.trim()));
        collapsed.push_str(&format!(
            "{name}:{}\n",
            value.split_whitespace().collect::<Vec<_>>().join(" ")
        ));
        let sdk = collapse_blanks(first);
        let mut choices = vec![sdk.clone()];
        if name != "host" && name != "x-sdk-date" {
            let core = sdk.trim_matches(' ');
            for padded in [format!(" {core}"), format!("{core} "), format!(" {core} ")] {
                if !choices.contains(&padded) {
                    choices.push(padded);
                }
            }
        }
        sdk_choices.push(choices);
    }
    let mut v = vec![plain, collapsed];
    let combinations = sdk_choices
        .iter()
        .try_fold(1usize, |n, c| n.checked_mul(c.len()))
        .filter(|n| *n <= MAX_PADDED_VARIANTS);
    let mut blocks = vec![String::new()];
    for (name, choices) in signed.iter().zip(&sdk_choices) {
        // Beyond the cap, only the unpadded SDK value of each header.
        let choices = if combinations.is_some() {
            &choices[..]
        } else {
            &choices[..1]
        };
        blocks = blocks
            .iter()
            .flat_map(|b| choices.iter().map(move |c| format!("{b}{name}:{c}\n")))
            .collect();
    }
    v.extend(blocks);
    let mut seen = std::collections::HashSet::new();
    v.retain(|b| seen.insert(b.clone()));
    Ok(v)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    match HmacSha256::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Signature of a canonical request under variant A or B.
fn signature_for(canonical: &str, date: &str, scope: Option<&str>, sk: &str) -> String {
    let hashed = sha256_hex(canonical.as_bytes());
    match scope {
        None => hex::encode(hmac(
            sk.as_bytes(),
            format!("{ALGORITHM}\n{date}\n{hashed}").as_bytes(),
        )),
        Some(scope) => {
            let mut parts = scope.split('/');
            let (d, region, service) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let k_date = hmac(format!("SDK{sk}").as_bytes(), d.as_bytes());
            let k_region = hmac(&k_date, region.as_bytes());
            let k_service = hmac(&k_region, service.as_bytes());
            let k_signing = hmac(&k_service, b"sdk_request");
            hex::encode(hmac(
                &k_signing,
                format!("{ALGORITHM}\n{date}\n{scope}\n{hashed}").as_bytes(),
            ))
        }
    }
}

/// The query string the SDK hashes as the payload of a POST without body:
/// Go's `url.Values.Encode()` of the query, i.e. decoded (`+` as space),
/// keys sorted byte-wise with the values of a key in their order, and
/// re-encoded with `url.QueryEscape` (space as `+`). Checked against the
/// SDK's signature of vector V6.
fn sdk_bodyless_post_payloads(raw: Option<&str>) -> Vec<String> {
    let query_escape = |bytes: &[u8]| encode(bytes, false).replace("%20", "+");
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = raw
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| -> Vec<u8> { percent_decode_str(&s.replace('+', " ")).collect() };
            (dec(k), dec(v))
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    vec![pairs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")]
}

/// Verifies the request's signature. `secret_for` maps an AK to its SK.
/// Returns the access key on success.
pub(crate) fn verify(
    req: &SignedRequest<'_>,
    secret_for: impl Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
) -> Result<String, AkskError> {
    let auth_value = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AkskError::Malformed("authorization header missing or not ASCII".into()))?;
    let auth = parse_authorization(auth_value)?;
    let sk = secret_for(&auth.ak).ok_or_else(|| AkskError::UnknownAk(auth.ak.clone()))?;
    if !auth.signed_headers.iter().any(|h| h == "x-sdk-date") {
        return Err(AkskError::Date(
            "x-sdk-date is not among the signed headers".into(),
        ));
    }
    let date = req
        .headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| AkskError::Date("x-sdk-date header not found".into()))?;
    let signed_at = NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
        .map_err(|_| {
            AkskError::Date(format!(
                "x-sdk-date `{date}` is not of the form YYYYMMDDTHHMMSSZ"
            ))
        })?
        .and_utc();
    if (now - signed_at).num_seconds().abs() > MAX_SKEW_SECS {
        return Err(AkskError::Expired {
            signature_time: date.to_owned(),
            server_time: now.format("%Y%m%dT%H%M%SZ").to_string(),
        });
    }
    if let Some(scope) = &auth.scope {
        let parts: Vec<&str> = scope.split('/').collect();
        if parts.len() != 4 || parts[3] != "sdk_request" || !date.starts_with(parts[0]) {
            return Err(AkskError::Malformed(format!("credential scope `{scope}` is not <YYYYMMDD of x-sdk-date>/<region>/<service>/sdk_request")));
        }
    }
    let content_sha = req
        .headers
        .get("x-sdk-content-sha256")
        .and_then(|v| v.to_str().ok());
    let body_hash = match content_sha {
        Some(h) => h.to_owned(),
        None => sha256_hex(req.body),
    };
    // (canonical query, payload hash) pairs.
    let mut query_and_hash: Vec<(String, String)> = canonical_queries(req.query)
        .into_iter()
        .map(|q| (q, body_hash.clone()))
        .collect();
    if req.method.eq_ignore_ascii_case("POST") && req.body.is_empty() && content_sha.is_none() {
        // The SDK signs a POST without body with an empty query and the
        // hash of the query string as payload (signer_helper.go:380-381).
        for q in sdk_bodyless_post_payloads(req.query) {
            query_and_hash.push((String::new(), sha256_hex(q.as_bytes())));
        }
    }
    let uris = canonical_uris(req.path);
    let signed_list = auth.signed_headers.join(";");
    for headers in canonical_headers(&auth.signed_headers, req.headers, req.authority)? {
        for uri in &uris {
            for (query, hash) in &query_and_hash {
                let canonical = format!(
                    "{}\n{uri}\n{query}\n{headers}\n{signed_list}\n{hash}",
                    req.method
                );
                if signature_for(&canonical, date, auth.scope.as_deref(), &sk) == auth.signature {
                    return Ok(auth.ak);
                }
            }
        }
    }
    Err(AkskError::Mismatch)
}

#[cfg(test)]
mod tests;
