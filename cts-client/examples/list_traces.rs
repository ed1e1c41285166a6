//! Lists the last hour of management traces of one project.
//!
//! ```text
//! CTS_ENDPOINT=https://cts.eu-de.otc.t-systems.com/v1.0/<project_id> \
//! OS_TOKEN=<token> cargo run -p cts-client --example list_traces
//! ```
//!
//! `CTS_ENDPOINT` is the catalog URL of CTS (or the emulator's); `OS_TOKEN`
//! an IAM token for that project. `CTS_API_VERSION` (v1, v2, v3) is optional.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use cts_client::{ApiVersion, CtsClient, Endpoint, TraceQuery};
use futures::TryStreamExt;
use otc_auth::{Secret, StaticToken};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::var("CTS_ENDPOINT").map_err(|_| "set CTS_ENDPOINT to the CTS catalog URL, e.g. https://cts.eu-de.otc.t-systems.com/v1.0/<project_id>")?;
    let token =
        std::env::var("OS_TOKEN").map_err(|_| "set OS_TOKEN to an IAM token of the project")?;
    let version: ApiVersion = std::env::var("CTS_API_VERSION")
        .unwrap_or_else(|_| "v3".to_owned())
        .parse()?;

    let client = CtsClient::builder(
        Endpoint::from_catalog_url(&endpoint)?,
        Arc::new(StaticToken::new(Secret::new(token))),
    )
    .api_version(version)
    .build()?;

    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let query = TraceQuery::new().window_ms(now - 3_600_000, now).limit(200);
    let mut traces = std::pin::pin!(client.traces(query));
    let mut n = 0usize;
    while let Some(trace) = traces.try_next().await? {
        n += 1;
        println!(
            "{} {} {} {}",
            trace.time.unwrap_or_default(),
            trace.service_type.as_deref().unwrap_or("-"),
            trace.trace_name.as_deref().unwrap_or("-"),
            trace
                .trace_rating
                .as_ref()
                .map(|r| r.as_str())
                .unwrap_or("-"),
        );
    }
    eprintln!("{n} traces");
    Ok(())
}
