//! Lists the last hour of management traces of a cloud from clouds.yaml.
//!
//! ```text
//! OS_CLOUD=otc cargo run -p cts-client --example list_traces
//! OS_CLOUD=otc cargo run -p cts-client --example list_traces -- --minutes 15
//! ```
//!
//! The cloud is found the OpenStack way (`OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`,
//! `~/.config/openstack/clouds.yaml`, ...; `OS_CLOUD` or the only cloud in the file). Prints one line
//! per trace, newest first: `trace_id time_ms service_type trace_name user`, and on stderr the window
//! and the count. `scripts/examples-check` runs it against the emulator and compares the ids.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use cts_client::{CtsClient, EpochMillis, TraceQuery};
use futures::TryStreamExt;
use otc_auth::{load_cloud, LoadOptions};

#[tokio::main]
async fn main() -> ExitCode {
    let minutes = match minutes_arg() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(minutes).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One error type for the whole path: otc-auth's errors convert into `cts_client::Error`.
async fn run(minutes: u64) -> Result<(), cts_client::Error> {
    let cloud = load_cloud(&LoadOptions::from_process(), None)?;
    let client = CtsClient::from_cloud(cloud).await?;

    let to = SystemTime::now();
    let from = to - Duration::from_secs(minutes * 60);
    eprintln!(
        "window: {} {} (epoch ms, both exclusive) from {}",
        from.epoch_millis(),
        to.epoch_millis(),
        client.endpoint()
    );
    let query = TraceQuery::new().window(from, to).limit(200);
    let mut traces = std::pin::pin!(client.traces(query));
    let mut n = 0usize;
    while let Some(trace) = traces.try_next().await? {
        n += 1;
        println!(
            "{} {} {} {} {}",
            trace.trace_id.as_deref().unwrap_or("-"),
            trace.time.unwrap_or_default(),
            trace.service_type.as_deref().unwrap_or("-"),
            trace.trace_name.as_deref().unwrap_or("-"),
            trace.user.and_then(|u| u.name).unwrap_or_default(),
        );
    }
    eprintln!("{n} traces");
    Ok(())
}

fn minutes_arg() -> Result<u64, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(60),
        (Some("--minutes"), Some(v)) => match v.parse::<u64>() {
            Ok(m) if (1..=7 * 24 * 60).contains(&m) => Ok(m),
            _ => Err(format!(
                "--minutes takes a whole number from 1 to 10080 (CTS keeps 7 days), got {v:?}"
            )),
        },
        _ => Err("usage: list_traces [--minutes N]".into()),
    }
}
