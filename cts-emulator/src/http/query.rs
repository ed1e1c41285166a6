//! Parsing and validating the trace-list query string (cts-api.md §1.2,
//! §1.3): defaults, the 1..=200 limit, exclusive `from`/`to` on `time`, the
//! seven-day clamp, filters, and the per-version status parameter name.

use crate::generator::Rating;
use crate::store::{Filters, PageQuery};

/// The seven days CTS keeps traces for.
pub(crate) const RETENTION_MS: i64 = 7 * 86_400_000;
/// Default and largest `limit`.
pub(crate) const DEFAULT_LIMIT: usize = 10;
pub(crate) const MAX_LIMIT: usize = 200;

/// Which trace-list API is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiVersion {
    V1,
    V2,
    V3,
}

/// A validated trace-list request.
#[derive(Debug, Clone)]
pub(crate) struct ListRequest {
    pub page: PageQuery,
    /// `next` as given (a trace id), resolved against the store later.
    pub next: Option<String>,
    /// `trace_id`: when given, other criteria do not apply.
    pub trace_id: Option<String>,
    /// v3 `trace_type=data`: OTC has no data traces, so the list is empty.
    pub data_traces: bool,
}

/// A `400 CTS.xxxx` refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    pub code: &'static str,
    pub msg: String,
}

fn bad(msg: impl Into<String>) -> QueryError {
    QueryError {
        code: "CTS.0300",
        msg: format!("Query failed. {}", msg.into()),
    }
}

fn int(name: &str, v: &str) -> Result<i64, QueryError> {
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(bad(format!("`{name}` must be a UTC timestamp in milliseconds (13 digits, e.g. 1700000000000); got `{v}`"))),
    }
}

/// Parses the raw query string of a trace-list call at server time `now_ms`.
pub(crate) fn parse(
    version: ApiVersion,
    raw: Option<&str>,
    now_ms: i64,
) -> Result<ListRequest, QueryError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !params.iter().any(|(seen, _)| *seen == k) {
            params.push((k.into_owned(), v.into_owned()));
        }
    }
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };

    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(bad(format!(
                    "`limit` must be an integer from 1 to {MAX_LIMIT}; got `{v}`"
                )))
            }
        },
    };
    let to = match get("to") {
        Some(v) => int("to", &v)?,
        None => now_ms,
    };
    let from = match get("from") {
        Some(v) => int("from", &v)?,
        None => now_ms - 3_600_000,
    };
    // Only the last seven days are queryable; an older `from` is clamped.
    let from = from.max(now_ms - RETENTION_MS - 1);

    let status_params: &[&str] = match version {
        ApiVersion::V2 => &["trace_status", "trace_rating"],
        ApiVersion::V1 | ApiVersion::V3 => &["trace_rating"],
    };
    let mut rating = None;
    for name in status_params {
        if let Some(v) = get(name) {
            rating = Some(match v.as_str() {
                "normal" => Rating::Normal,
                "warning" => Rating::Warning,
                "incident" => Rating::Incident,
                _ => {
                    return Err(bad(format!(
                        "`{name}` must be normal, warning or incident; got `{v}`"
                    )))
                }
            });
            break;
        }
    }

    let mut data_traces = false;
    if version == ApiVersion::V3 {
        match get("trace_type").as_deref() {
            None | Some("system") => {}
            Some("data") => data_traces = true,
            Some(other) => {
                return Err(bad(format!(
                    "`trace_type` must be system or data; got `{other}`"
                )))
            }
        }
        if let Some(t) = get("tracker_name") {
            if t != "system" {
                return Err(QueryError {
                    code: "CTS.0204",
                    msg: format!("The tracker_name parameter of a management tracker can only be set to system; got `{t}`."),
                });
            }
        }
    }

    let filters = Filters {
        service_type: get("service_type"),
        user: get("user"),
        resource_id: get("resource_id"),
        resource_name: get("resource_name"),
        resource_type: get("resource_type"),
        trace_name: get("trace_name"),
        rating,
    };
    Ok(ListRequest {
        page: PageQuery {
            from,
            to,
            before_record_time: None,
            limit,
            filters,
        },
        next: get("next"),
        trace_id: get("trace_id"),
        data_traces,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn defaults() {
        let r = parse(ApiVersion::V3, None, NOW).expect("valid");
        assert_eq!(r.page.limit, 10);
        assert_eq!(r.page.to, NOW);
        assert_eq!(r.page.from, NOW - 3_600_000);
        assert!(r.next.is_none() && r.trace_id.is_none() && !r.data_traces);
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(
            parse(ApiVersion::V3, Some("limit=200"), NOW)
                .expect("200")
                .page
                .limit,
            200
        );
        for bad in ["limit=201", "limit=0", "limit=-1", "limit=ten"] {
            let e = parse(ApiVersion::V1, Some(bad), NOW).expect_err(bad);
            assert_eq!(e.code, "CTS.0300");
            assert!(e.msg.contains("1 to 200"), "{}", e.msg);
        }
    }

    #[test]
    fn from_is_clamped_to_seven_days() {
        let r = parse(ApiVersion::V3, Some("from=0&to=1700000000000"), NOW).expect("valid");
        assert_eq!(r.page.from, NOW - RETENTION_MS - 1);
        assert!(parse(ApiVersion::V3, Some("from=abc"), NOW)
            .expect_err("abc")
            .msg
            .contains("`from`"));
    }

    #[test]
    fn status_parameter_names_per_version() {
        let v2 = parse(ApiVersion::V2, Some("trace_status=warning"), NOW).expect("v2");
        assert_eq!(v2.page.filters.rating, Some(Rating::Warning));
        let v2b = parse(ApiVersion::V2, Some("trace_rating=incident"), NOW).expect("v2 rating");
        assert_eq!(v2b.page.filters.rating, Some(Rating::Incident));
        let v3 = parse(ApiVersion::V3, Some("trace_status=warning"), NOW)
            .expect("v3 ignores trace_status");
        assert_eq!(v3.page.filters.rating, None);
        assert!(parse(ApiVersion::V3, Some("trace_rating=bad"), NOW).is_err());
    }

    #[test]
    fn v3_trace_type_and_tracker() {
        assert!(
            parse(ApiVersion::V3, Some("trace_type=data"), NOW)
                .expect("data")
                .data_traces
        );
        assert!(parse(ApiVersion::V3, Some("trace_type=other"), NOW).is_err());
        assert_eq!(
            parse(ApiVersion::V3, Some("tracker_name=foo"), NOW)
                .expect_err("tracker")
                .code,
            "CTS.0204"
        );
        assert!(parse(
            ApiVersion::V3,
            Some("tracker_name=system&trace_type=system"),
            NOW
        )
        .is_ok());
    }

    #[test]
    fn filters_are_read_and_decoded() {
        let r = parse(ApiVersion::V3, Some("service_type=ECS&user=anna.mueller&resource_name=web%20a&resource_type=ecs&resource_id=x&trace_name=createServer&next=abc&trace_id=t1"), NOW)
            .expect("valid");
        let f = &r.page.filters;
        assert_eq!(f.service_type.as_deref(), Some("ECS"));
        assert_eq!(f.user.as_deref(), Some("anna.mueller"));
        assert_eq!(f.resource_name.as_deref(), Some("web a"));
        assert_eq!(
            (f.resource_type.as_deref(), f.resource_id.as_deref()),
            (Some("ecs"), Some("x"))
        );
        assert_eq!(f.trace_name.as_deref(), Some("createServer"));
        assert_eq!(
            (r.next.as_deref(), r.trace_id.as_deref()),
            (Some("abc"), Some("t1"))
        );
    }
}
