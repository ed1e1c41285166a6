//! Turning response bodies into values, or into errors a human can act on.
//!
//! A body that is not what CTS documents (cut-off JSON, an HTML error page
//! from a proxy with status 200, a field of the wrong type) becomes an
//! [`Error::Decode`] that names the problem and shows the part of the body
//! around it. In a trace list, a single trace with a field of the wrong
//! type is not a page error: [`crate::page`] sets it aside as an
//! [`crate::UndecodableTrace`]. Error responses
//! (4xx/5xx) are read leniently into an [`ApiError`].

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;
use crate::page::{PageWire, TracePage};
use crate::Error;

const SNIPPET_CHARS: usize = 160;

/// Decodes a trace-list page.
pub(crate) fn page(
    body: &[u8],
    content_type: Option<&str>,
    what: &str,
) -> Result<TracePage, Error> {
    decode::<PageWire>(body, content_type, what)
        .map(TracePage::from)
        .map_err(|e| locate_page_error(e, body))
}

/// Decodes any JSON body with the common checks.
pub(crate) fn decode<T: DeserializeOwned>(
    body: &[u8],
    content_type: Option<&str>,
    what: &str,
) -> Result<T, Error> {
    let fail = |problem: String, snippet: String| Error::Decode {
        what: what.to_owned(),
        problem,
        snippet,
    };
    let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        return Err(fail(
            "the body is empty, expected a JSON object".to_owned(),
            "\"\"".to_owned(),
        ));
    };
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if first == b'<' || ct.contains("html") || ct.contains("xml") {
        return Err(fail(
            format!(
                "expected JSON but got {} (Content-Type: {}); a proxy, gateway or login page answered instead of CTS",
                if first == b'<' { "HTML/XML" } else { "a non-JSON body" },
                content_type.unwrap_or("none")
            ),
            head(body),
        ));
    }
    serde_json::from_slice::<T>(body).map_err(|e| {
        let problem = match e.classify() {
            serde_json::error::Category::Eof => {
                format!("the body is cut off (truncated JSON): {e}")
            }
            serde_json::error::Category::Syntax => format!("the body is not valid JSON: {e}"),
            serde_json::error::Category::Data => {
                format!("a field is missing or has the wrong type: {e}")
            }
            serde_json::error::Category::Io => format!("{e}"),
        };
        let snippet = if e.classify() == serde_json::error::Category::Eof {
            tail(body)
        } else {
            around(body, e.line(), e.column())
        };
        fail(problem, snippet)
    })
}

/// For a data error in a page, says what is wrong with the page's shape
/// (no `traces`, `traces` not a list); other errors pass through.
fn locate_page_error(err: Error, body: &[u8]) -> Error {
    let Error::Decode {
        what,
        problem,
        snippet,
    } = err
    else {
        return err;
    };
    let located = if problem.starts_with("a field") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(root)) => match root.get("traces") {
                None => Some(
                    "the body has no `traces` field; expected {\"traces\": [...], \"meta_data\": {...}}"
                        .to_owned(),
                ),
                Some(Value::Array(_) | Value::Null) => None,
                Some(other) => Some(format!("`traces` must be an array, got {}", kind(other))),
            },
            _ => None,
        }
    } else {
        None
    };
    let problem = match located {
        Some(p) => format!("a field is missing or has the wrong type: {p}"),
        None => problem,
    };
    Error::Decode {
        what,
        problem,
        snippet,
    }
}

/// Reads an error response: CTS/APIG `{"error_code","error_msg"}`, IAM
/// `{"error":{"code","message"}}`, or a snippet of whatever else came.
pub(crate) fn api_error(status: u16, body: &[u8], header_request_id: Option<&str>) -> ApiError {
    let mut err = ApiError {
        status,
        code: None,
        message: None,
        request_id: header_request_id.map(str::to_owned),
    };
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            let nested = match map.get("error") {
                Some(Value::Object(inner)) => Some(inner),
                _ => None,
            };
            err.code = text(map.get("error_code"))
                .or_else(|| text(map.get("code")))
                .or_else(|| {
                    nested.and_then(|n| text(n.get("title")).or_else(|| text(n.get("code"))))
                });
            err.message = text(map.get("error_msg"))
                .or_else(|| text(map.get("message")))
                .or_else(|| nested.and_then(|n| text(n.get("message"))));
            if let Some(id) = text(map.get("request_id")) {
                err.request_id = Some(id);
            }
            if err.code.is_none() && err.message.is_none() {
                err.message = Some(head(body));
            }
        }
        _ if body.iter().all(u8::is_ascii_whitespace) => {}
        _ => err.message = Some(head(body)),
    }
    err
}

/// The start of the body, quoted.
fn head(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    quote(text.trim_start(), 0, SNIPPET_CHARS)
}

/// The end of the body, quoted (where a truncation shows).
fn tail(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim_end();
    let n = text.chars().count();
    let start = n.saturating_sub(SNIPPET_CHARS);
    let mut s = quote(text, start, SNIPPET_CHARS);
    if start > 0 {
        s.insert(0, '…');
    }
    s
}

/// The text around 1-based `line`/`column` (serde_json's position), quoted.
fn around(body: &[u8], line: usize, column: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let Some(l) = text.lines().nth(line.saturating_sub(1)) else {
        return head(body);
    };
    // serde_json counts columns in bytes; convert to a char index.
    let byte = column.min(l.len());
    let byte = (0..=byte)
        .rev()
        .find(|b| l.is_char_boundary(*b))
        .unwrap_or(0);
    let col_chars = l[..byte].chars().count();
    let start = col_chars.saturating_sub(SNIPPET_CHARS / 2);
    let mut s = quote(l, start, SNIPPET_CHARS);
    if start > 0 {
        s.insert(0, '…');
    }
    s
}

fn quote(text: &str, start_char: usize, max_chars: usize) -> String {
    let piece: String = text.chars().skip(start_char).take(max_chars).collect();
    let more = text.chars().count() > start_char + max_chars;
    format!("{piece:?}{}", if more { "…" } else { "" })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHAT: &str = "the trace list";

    fn problem(e: Error) -> (String, String) {
        match e {
            Error::Decode {
                problem, snippet, ..
            } => (problem, snippet),
            other => panic!("expected a decode error, got {other}"),
        }
    }

    #[test]
    fn good_page() {
        let p = page(
            br#"{"traces":[{"trace_id":"a"}],"meta_data":{"count":"1","marker":"a"}}"#,
            Some("application/json"),
            WHAT,
        )
        .expect("decodes");
        assert_eq!(p.traces.len(), 1);
        assert_eq!(p.marker.as_deref(), Some("a"));
        assert_eq!(p.count, Some(1));
        let p = page(br#"{"traces":null,"meta_data":{"marker":""}}"#, None, WHAT).expect("decodes");
        assert!(p.traces.is_empty() && p.marker.is_none());
    }

    #[test]
    fn truncated_shows_the_end() {
        let (p, s) = problem(
            page(br#"{"traces":[{"trace_id":"abc","trace_na"#, None, WHAT).expect_err("cut"),
        );
        assert!(p.contains("cut off"), "{p}");
        assert!(s.contains("trace_na"), "{s}");
    }

    #[test]
    fn html_is_named() {
        let (p, s) = problem(
            page(
                b"<html><body>Bad gateway</body></html>",
                Some("text/html"),
                WHAT,
            )
            .expect_err("html"),
        );
        assert!(
            p.contains("expected JSON but got HTML") && p.contains("text/html"),
            "{p}"
        );
        assert!(s.contains("<html>"), "{s}");
        let (p, _) = problem(page(b"  ", None, WHAT).expect_err("empty"));
        assert!(p.contains("empty"), "{p}");
    }

    #[test]
    fn a_wrong_type_sets_the_trace_aside_and_keeps_the_others() {
        let body = br#"{"traces":[{"trace_id":"ok"},{"trace_id":"bad","service_type":"ECS","time":"yesterday"},{"trace_id":"u","user":42},{"trace_id":"ok2"}],"meta_data":{"count":4,"marker":"ok2"}}"#;
        let p = page(body, None, WHAT).expect("the page decodes");
        let ids: Vec<_> = p.traces.iter().map(|t| t.trace_id.as_deref()).collect();
        assert_eq!(ids, [Some("ok"), Some("ok2")]);
        assert_eq!(p.marker.as_deref(), Some("ok2"));
        assert_eq!(p.undecodable.len(), 2);
        let bad = &p.undecodable[0];
        assert_eq!((bad.index, bad.trace_id.as_deref()), (1, Some("bad")));
        assert_eq!(bad.service_type.as_deref(), Some("ECS"));
        assert_eq!(
            bad.raw, r#"{"trace_id":"bad","service_type":"ECS","time":"yesterday"}"#,
            "byte for byte"
        );
        assert!(bad.error.contains("epoch milliseconds"), "{}", bad.error);
        assert_eq!(p.undecodable[1].index, 2);
        assert!(p.undecodable[1].raw.contains("\"user\":42"));
    }

    #[test]
    fn a_page_whose_traces_are_not_a_list_still_fails() {
        let (p, _) = problem(page(br#"{"traces":{"a":1}}"#, None, WHAT).expect_err("object"));
        assert!(
            p.contains("`traces` must be an array, got an object"),
            "{p}"
        );
        let (p, _) = problem(page(br#"{"meta_data":{}}"#, None, WHAT).expect_err("missing"));
        assert!(p.contains("no `traces` field"), "{p}");
        let (p, _) = problem(page(br#"{"traces":"x"}"#, None, WHAT).expect_err("string"));
        assert!(p.contains("got a string"), "{p}");
    }

    #[test]
    fn error_bodies() {
        let e = api_error(
            400,
            br#"{"error_code":"CTS.0300","error_msg":"Query failed."}"#,
            Some("h-1"),
        );
        assert_eq!(
            (
                e.code.as_deref(),
                e.message.as_deref(),
                e.request_id.as_deref()
            ),
            (Some("CTS.0300"), Some("Query failed."), Some("h-1"))
        );
        let e = api_error(401, br#"{"error_msg":"Incorrect IAM authentication information: decrypt token fail","error_code":"APIG.0301","request_id":"r9"}"#, None);
        assert_eq!(
            (e.code.as_deref(), e.request_id.as_deref()),
            (Some("APIG.0301"), Some("r9"))
        );
        let e = api_error(
            404,
            br#"{"error":{"message":"Could not find","code":404,"title":"Not Found"}}"#,
            None,
        );
        assert_eq!(
            (e.code.as_deref(), e.message.as_deref()),
            (Some("Not Found"), Some("Could not find"))
        );
        let e = api_error(502, b"<html>bad gateway</html>", None);
        assert!(e
            .message
            .as_deref()
            .is_some_and(|m| m.contains("bad gateway")));
        assert_eq!(api_error(503, b"", None).message, None);
    }

    #[test]
    fn snippets_are_bounded_and_utf8_safe() {
        let long = format!(
            "{{\"traces\":[{}], \"x\": ééé}}",
            "{\"trace_id\":\"é\"},".repeat(200)
        );
        let (_, s) = problem(page(long.as_bytes(), None, WHAT).expect_err("syntax"));
        assert!(s.chars().count() < SNIPPET_CHARS + 10, "{}", s.len());
    }
}
