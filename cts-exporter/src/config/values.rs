//! Parsers shared by every setting. Each returns a [`ConfigError`] naming the
//! setting, what is allowed, an example and the value received.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use cts_client::ApiVersion;

use super::{ConfigError, Filters};
use crate::cli::CommonArgs;

pub(super) fn clouds(raw: Option<&str>) -> Result<Vec<Option<String>>, ConfigError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(vec![None]);
    };
    let mut out: Vec<Option<String>> = Vec::new();
    for name in raw.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(ConfigError::new(
                "OS_CLOUD (--cloud)",
                format!("{raw:?} has an empty cloud name; use names from clouds.yaml separated by commas, e.g. OS_CLOUD=prod,staging"),
            ));
        }
        if out.iter().any(|c| c.as_deref() == Some(name)) {
            return Err(ConfigError::new(
                "OS_CLOUD (--cloud)",
                format!("cloud {name:?} is listed twice in {raw:?}"),
            ));
        }
        out.push(Some(name.to_string()));
    }
    Ok(out)
}

pub(super) fn tracker(raw: &str) -> Result<String, ConfigError> {
    let t = raw.trim();
    let ok = !t.is_empty()
        && t.len() <= 64
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(t.to_string())
    } else {
        Err(ConfigError::new(
            "CTS_TRACKER (--tracker)",
            format!("expected a tracker name of letters, digits, '_', '-' or '.', e.g. CTS_TRACKER=system; got {raw:?}"),
        ))
    }
}

pub(super) fn api_choice(raw: &str) -> Result<ApiVersion, ConfigError> {
    raw.parse().map_err(|_| {
        ConfigError::new(
            "CTS_API_VERSION (--api-version)",
            format!("expected v3, v2 or v1, e.g. CTS_API_VERSION=v3; got {raw:?}"),
        )
    })
}

pub(super) fn filters(a: &CommonArgs) -> Result<Filters, ConfigError> {
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let rating = match clean(&a.rating) {
        Some(r) => {
            let lower = r.to_ascii_lowercase();
            if !matches!(lower.as_str(), "normal" | "warning" | "incident") {
                return Err(ConfigError::new(
                    "CTS_RATING (--rating)",
                    format!("expected normal, warning or incident; got {r:?}"),
                ));
            }
            Some(lower)
        }
        None => None,
    };
    Ok(Filters {
        service: clean(&a.service),
        operation: clean(&a.operation),
        rating,
        user: clean(&a.user),
        resource_type: clean(&a.resource_type),
        resource_id: clean(&a.resource_id),
        resource_name: clean(&a.resource_name),
    })
}

pub(super) fn metrics_addr(raw: &str) -> Result<Option<SocketAddr>, ConfigError> {
    let t = raw.trim();
    if t.eq_ignore_ascii_case("off") || t.is_empty() {
        return Ok(None);
    }
    t.parse().map(Some).map_err(|_| {
        ConfigError::new(
            "CTS_METRICS_ADDR (--metrics-addr)",
            format!("expected ip:port or off, e.g. CTS_METRICS_ADDR=0.0.0.0:9090; got {raw:?}"),
        )
    })
}

pub(super) fn path_opt(setting: &str, raw: Option<&str>) -> Result<Option<PathBuf>, ConfigError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) if p.ends_with('/') => Err(ConfigError::new(
            setting,
            format!("expected a file path, got the directory {p:?}"),
        )),
        Some(p) => Ok(Some(PathBuf::from(p))),
    }
}

/// Booleans as Go's `strconv.ParseBool` and common spellings accept them.
pub fn boolean(setting: &str, raw: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" | "on" => Ok(true),
        "false" | "f" | "0" | "no" | "n" | "off" | "" => Ok(false),
        _ => Err(ConfigError::new(
            setting,
            format!("expected true or false; got {raw:?}"),
        )),
    }
}

pub(super) fn int_in(
    setting: &str,
    raw: &str,
    min: u64,
    max: u64,
    example: &str,
) -> Result<u64, ConfigError> {
    match raw.trim().parse::<u64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(v),
        _ => Err(ConfigError::new(
            setting,
            format!("expected a whole number from {min} to {max} ({example}); got {raw:?}"),
        )),
    }
}

pub(super) fn nonzero(
    setting: &str,
    raw: &str,
    example: &str,
) -> Result<NonZeroUsize, ConfigError> {
    let v = int_in(setting, raw, 1, 100_000_000, example)?;
    NonZeroUsize::new(v as usize).ok_or_else(|| ConfigError::new(setting, "must be at least 1"))
}

/// An instant as RFC 3339 or epoch milliseconds.
pub(super) fn instant(setting: &str, raw: &str) -> Result<i64, ConfigError> {
    let t = raw.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.timestamp_millis())
        .map_err(|_| {
            ConfigError::new(
                setting,
                format!("expected an RFC 3339 time such as 2024-05-01T10:00:00Z or epoch milliseconds; got {raw:?}"),
            )
        })
}
