//! The delivery settings: sink URL, content mode, batch mode, CA bundle, OIDC token
//! file, concurrency, retry policy and request timeout.

use std::time::Duration;

use url::Url;

use ce_delivery::Batching;

use super::values::{boolean, int_in, nonzero, path_opt};
use super::{ConfigError, EventMode, SinkConfig};
use crate::cli::CommonArgs;
use crate::delivery::retry::sink_retry;

pub(super) fn sink_config(a: &CommonArgs) -> Result<SinkConfig, ConfigError> {
    const SINK: &str = "K_SINK (--sink)";
    let raw = a.sink.as_deref().map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err(ConfigError::new(
            SINK,
            "no sink is set; set K_SINK=http://broker-ingress.knative-eventing.svc/ns/default (Knative injects it), or CTS_X_PNP=false to print events instead",
        ));
    }
    let url = Url::parse(raw).map_err(|e| {
        ConfigError::new(
            SINK,
            format!(
                "{raw:?} is not a URL ({e}); expected e.g. http://sink.default.svc.cluster.local"
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            SINK,
            format!("{raw:?} is not an http(s) URL with a host; expected e.g. https://sink.default.svc.cluster.local"),
        ));
    }
    let mode = match a.event_mode.trim().to_ascii_lowercase().as_str() {
        "binary" => EventMode::Binary,
        "structured" => EventMode::Structured,
        other => {
            return Err(ConfigError::new(
                "CTS_EVENT_MODE (--event-mode)",
                format!("expected binary or structured, got {other:?}"),
            ))
        }
    };
    let initial = int_in(
        "CTS_RETRY_INITIAL_MS (--retry-initial-ms)",
        &a.retry_initial_ms,
        1,
        3_600_000,
        "e.g. 200",
    )?;
    let max = int_in(
        "CTS_RETRY_MAX_MS (--retry-max-ms)",
        &a.retry_max_ms,
        1,
        3_600_000,
        "e.g. 30000",
    )?;
    if max < initial {
        return Err(ConfigError::new(
            "CTS_RETRY_MAX_MS (--retry-max-ms)",
            format!("must be at least CTS_RETRY_INITIAL_MS ({initial}), got {max}"),
        ));
    }
    let batch = if boolean("CTS_CE_BATCH (--ce-batch)", &a.ce_batch)? {
        Some(Batching::new(
            int_in(
                "CTS_CE_BATCH_MAX_EVENTS (--ce-batch-max-events)",
                &a.ce_batch_max_events,
                1,
                10_000,
                "e.g. 100",
            )? as usize,
            Duration::from_millis(int_in(
                "CTS_CE_BATCH_MAX_DELAY_MS (--ce-batch-max-delay-ms)",
                &a.ce_batch_max_delay_ms,
                0,
                60_000,
                "e.g. 200",
            )?),
        ))
    } else {
        None
    };
    Ok(SinkConfig {
        batch,
        url,
        mode,
        ca_pem: a.ca_certs.as_deref().map(ca_pem).transpose()?,
        oidc_token_file: path_opt(
            "K_OIDC_TOKEN_FILE (--oidc-token-file)",
            Some(&a.oidc_token_file),
        )?,
        concurrency: nonzero(
            "CTS_DELIVERY_CONCURRENCY (--concurrency)",
            &a.concurrency,
            "e.g. 64",
        )?,
        retry: sink_retry(Duration::from_millis(initial), Duration::from_millis(max)),
        request_timeout: Duration::from_secs(int_in(
            "CTS_REQUEST_TIMEOUT_SECS (--request-timeout-secs)",
            &a.request_timeout_secs,
            1,
            3600,
            "e.g. 30",
        )?),
    })
}

/// `K_CA_CERTS` is PEM text as Knative injects it, or a path to a PEM file.
fn ca_pem(raw: &str) -> Result<Vec<u8>, ConfigError> {
    const SETTING: &str = "K_CA_CERTS (--ca-certs)";
    let pem = if raw.contains("-----BEGIN") {
        raw.as_bytes().to_vec()
    } else {
        std::fs::read(raw.trim()).map_err(|e| {
            ConfigError::new(
                SETTING,
                format!(
                    "expected PEM certificates or a readable PEM file; cannot read {raw:?}: {e}"
                ),
            )
        })?
    };
    let invalid = || {
        ConfigError::new(
            SETTING,
            "holds no valid PEM certificate; give the CA bundle starting with -----BEGIN CERTIFICATE-----",
        )
    };
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| invalid())?;
    if certs.is_empty() {
        return Err(invalid());
    }
    // The DER inside is only checked when a client trusts it.
    let mut builder = reqwest::Client::builder();
    for c in certs {
        builder = builder.add_root_certificate(c);
    }
    builder.build().map(|_| pem).map_err(|_| invalid())
}
