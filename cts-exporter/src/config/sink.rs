//! The delivery settings: sink URL, content mode, batch mode, CA bundle, OIDC token
//! file, concurrency, retry policy and request timeout.

use std::time::Duration;

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
    let url =
        ce_delivery::parse_sink_url(raw).map_err(|e| ConfigError::new(SINK, e.to_string()))?;
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
        ca_pem: a
            .ca_certs
            .as_deref()
            .map(|raw| {
                ce_delivery::read_ca_bundle(raw)
                    .map_err(|e| ConfigError::new("K_CA_CERTS (--ca-certs)", e.to_string()))
            })
            .transpose()?,
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
