//! Which AK/SK signature form to use, and the one-time fallback to the other form.
//!
//! OTC's gateway receives the OTC SDK's form from every SDK and Terraform user; the signing guide's
//! form is documented but not seen in the field (<https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/authentication.md>, §3.2). We sign in the
//! configured form (the SDK's by default). If the gateway refuses a signature of that form before any
//! signature was accepted, the next request is signed in the other form, once. The first form the
//! gateway accepts is kept for the life of the provider, and if it is not the configured one a single
//! INFO line says so. If both forms are refused, the configured form is used again and no more
//! switching happens: the problem is then the key, not the form.

use std::sync::Mutex;

use http::HeaderMap;

use crate::sign::{SignatureForm, ALGORITHM};

#[derive(Debug)]
struct State {
    current: SignatureForm,
    /// A signature was accepted: `current` is settled for good.
    confirmed: bool,
    /// `current` is the other form, on trial after a signature refusal.
    trying_other: bool,
    /// Both forms were refused once: no more switching.
    exhausted: bool,
}

/// The signature form of one AK/SK session.
#[derive(Debug)]
pub(crate) struct FormChoice {
    configured: SignatureForm,
    state: Mutex<State>,
}

impl FormChoice {
    pub(crate) fn new(configured: SignatureForm) -> Self {
        Self {
            configured,
            state: Mutex::new(State {
                current: configured,
                confirmed: false,
                trying_other: false,
                exhausted: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few flags, always left consistent: a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The form to sign the next request in.
    pub(crate) fn current(&self) -> SignatureForm {
        self.lock().current
    }

    /// A request signed in `sent` was refused with `status` and `body`. Returns true if the next
    /// request will be signed in another form (so retrying it is worth it).
    pub(crate) fn refused(&self, sent: SignatureForm, status: u16, body: &[u8]) -> bool {
        if !is_signature_refusal(status, body) {
            return false;
        }
        let mut s = self.lock();
        if s.confirmed || s.exhausted || sent != s.current {
            // Settled, used up, or a request signed before the switch: nothing to learn.
            return false;
        }
        if s.trying_other {
            s.current = self.configured;
            s.trying_other = false;
            s.exhausted = true;
            tracing::debug!(
                refused = %sent,
                back_to = %self.configured,
                "the gateway refused AK/SK signatures in both forms; the key itself is the problem"
            );
            false
        } else {
            s.current = sent.other();
            s.trying_other = true;
            tracing::debug!(
                refused = %sent,
                trying = %s.current,
                "the gateway refused an AK/SK signature; trying the other form once"
            );
            true
        }
    }

    /// A request signed in `sent` was accepted: that form is kept from now on.
    pub(crate) fn accepted(&self, sent: SignatureForm) {
        let mut s = self.lock();
        if s.confirmed {
            return;
        }
        s.confirmed = true;
        s.trying_other = false;
        s.current = sent;
        if sent != self.configured {
            tracing::info!(
                configured = %self.configured,
                using = %sent,
                "the gateway refused AK/SK signatures in the {} form and accepted the {} form; signing in the {} form from now on \
                 (set aksk_signing: {} in clouds.yaml or OS_AKSK_SIGNING={} to start with it)",
                self.configured, sent, sent, sent, sent
            );
        }
    }
}

/// The form of the signature in a request's `Authorization` header, if it carries one of ours.
pub(crate) fn form_of(headers: &HeaderMap) -> Option<SignatureForm> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let rest = value.trim_start().strip_prefix(ALGORITHM)?.trim_start();
    if rest.starts_with("Credential=") {
        Some(SignatureForm::Sdk)
    } else if rest.starts_with("Access=") {
        Some(SignatureForm::Guide)
    } else {
        None
    }
}

/// The error code of an API Gateway (`{"error_code"}`) or Keystone (`{"error":{"code"}}`) body,
/// upper-cased, and its message, lower-cased.
fn code_and_message(body: &[u8]) -> (String, String) {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => (
            v.pointer("/error_code")
                .or_else(|| v.pointer("/error/code"))
                .map(|c| match c {
                    serde_json::Value::String(s) => s.to_ascii_uppercase(),
                    other => other.to_string(),
                })
                .unwrap_or_default(),
            v.pointer("/error_msg")
                .or_else(|| v.pointer("/error/message"))
                .or_else(|| v.pointer("/message"))
                .and_then(|m| m.as_str())
                .unwrap_or_default()
                .to_ascii_lowercase(),
        ),
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(body).to_ascii_lowercase(),
        ),
    }
}

/// Did the server refuse the credentials (a 401, or an API Gateway credential code with any
/// status; API Gateway's FAQ <https://github.com/opentelekomcloud-docs/api-gateway/blob/main/umn/source/faqs/api_authentication/common_errors_related_to_iam_authentication_information.rst>)?
pub(crate) fn is_credential_failure(status: u16, body: &[u8]) -> bool {
    if status == 401 {
        return true;
    }
    (400..500).contains(&status)
        && matches!(
            code_and_message(body).0.as_str(),
            "APIG.0301" | "APIGW.0301" | "APIG.0303" | "APIGW.0303"
        )
}

/// Is this refusal about the signature itself (so the other form may be accepted)?
///
/// API Gateway answers every AK/SK problem with `APIG.0301` (or `APIGW.0301`) and a message
/// (API Gateway's FAQ, <https://github.com/opentelekomcloud-docs/api-gateway/blob/main/umn/source/faqs/api_authentication/common_errors_related_to_iam_authentication_information.rst>): `verify aksk signature fail` is the one a wrong form causes. Unknown keys
/// (`ak not exist`), expired signatures (`APIG.0303`, clock skew) and token problems are not cured
/// by another form. A 401 whose body names no cause counts as a signature refusal: the fallback is
/// tried only once, so guessing wrong costs one request.
pub(crate) fn is_signature_refusal(status: u16, body: &[u8]) -> bool {
    if !is_credential_failure(status, body) {
        return false;
    }
    let (code, message) = code_and_message(body);
    if code.ends_with(".0303")
        || ["expire", "not exist", "token"]
            .iter()
            .any(|other| message.contains(other))
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG_FAIL: &[u8] = br#"{"error_msg":"Incorrect IAM authentication information: verify aksk signature fail","error_code":"APIG.0301","request_id":"r1"}"#;

    #[test]
    fn which_refusals_are_about_the_signature() {
        assert!(is_signature_refusal(401, SIG_FAIL));
        assert!(is_signature_refusal(
            403,
            br#"{"error_msg":"verify aksk signature fail","error_code":"APIGW.0301"}"#
        ));
        assert!(is_signature_refusal(401, b""));
        assert!(is_signature_refusal(401, "\u{fffd}ünïcödé".as_bytes()));
        assert!(!is_signature_refusal(
            401,
            br#"{"error_msg":"Incorrect IAM authentication information: signature expired, signature time:20230527T000431Z,server time:20230527T020608Z","error_code":"APIG.0303"}"#
        ));
        assert!(!is_signature_refusal(
            401,
            br#"{"error_msg":"Incorrect IAM authentication information: Get secretKey failed,ak:X,err:ak not exist","error_code":"APIG.0301"}"#
        ));
        assert!(!is_signature_refusal(
            401,
            br#"{"error_msg":"Incorrect IAM authentication information: decrypt token fail","error_code":"APIG.0301"}"#
        ));
        assert!(!is_signature_refusal(
            403,
            br#"{"error_msg":"forbidden","error_code":"CTS.0001"}"#
        ));
        assert!(!is_signature_refusal(500, SIG_FAIL.repeat(2).as_slice()));
    }

    #[test]
    fn falls_back_once_and_keeps_the_form_that_worked() {
        let f = FormChoice::new(SignatureForm::Sdk);
        assert_eq!(f.current(), SignatureForm::Sdk);
        assert!(f.refused(SignatureForm::Sdk, 401, SIG_FAIL));
        assert_eq!(f.current(), SignatureForm::Guide);
        // A request signed before the switch comes back refused too: nothing changes.
        assert!(!f.refused(SignatureForm::Sdk, 401, SIG_FAIL));
        assert_eq!(f.current(), SignatureForm::Guide);
        f.accepted(SignatureForm::Guide);
        assert_eq!(f.current(), SignatureForm::Guide);
        // Settled: a later refusal does not switch again.
        assert!(!f.refused(SignatureForm::Guide, 401, SIG_FAIL));
        assert_eq!(f.current(), SignatureForm::Guide);
    }

    #[test]
    fn both_forms_refused_goes_back_and_stops_switching() {
        let f = FormChoice::new(SignatureForm::Guide);
        assert!(f.refused(SignatureForm::Guide, 401, SIG_FAIL));
        assert!(!f.refused(SignatureForm::Sdk, 401, SIG_FAIL));
        assert_eq!(f.current(), SignatureForm::Guide);
        assert!(!f.refused(SignatureForm::Guide, 401, SIG_FAIL));
        assert_eq!(f.current(), SignatureForm::Guide);
    }

    #[test]
    fn an_accepted_configured_form_is_never_switched() {
        let f = FormChoice::new(SignatureForm::Sdk);
        f.accepted(SignatureForm::Sdk);
        assert!(!f.refused(SignatureForm::Sdk, 401, SIG_FAIL));
        assert_eq!(f.current(), SignatureForm::Sdk);
    }

    #[test]
    fn other_refusals_do_not_switch() {
        let f = FormChoice::new(SignatureForm::Sdk);
        assert!(!f.refused(
            SignatureForm::Sdk,
            401,
            br#"{"error_msg":"signature expired","error_code":"APIG.0303"}"#
        ));
        assert_eq!(f.current(), SignatureForm::Sdk);
    }

    #[test]
    fn reads_the_form_from_the_authorization_header() {
        let mut h = HeaderMap::new();
        assert_eq!(form_of(&h), None);
        h.insert(
            "authorization",
            http::HeaderValue::from_static("SDK-HMAC-SHA256 Credential=AK/20240101///sdk_request, SignedHeaders=host, Signature=00"),
        );
        assert_eq!(form_of(&h), Some(SignatureForm::Sdk));
        h.insert(
            "authorization",
            http::HeaderValue::from_static(
                "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, Signature=00",
            ),
        );
        assert_eq!(form_of(&h), Some(SignatureForm::Guide));
        h.insert("authorization", http::HeaderValue::from_static("Bearer x"));
        assert_eq!(form_of(&h), None);
    }
}
