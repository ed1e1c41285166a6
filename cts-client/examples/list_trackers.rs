//! Lists the trackers of a cloud from clouds.yaml (v3 API), with their OBS bucket.
//!
//! ```text
//! OS_CLOUD=otc cargo run -p cts-client --example list_trackers
//! ```
//!
//! Prints one line per tracker: `tracker_name tracker_type status project_id bucket_name`.
//! `scripts/examples-check` runs it against the emulator and compares it with the emulator's answer.

use std::process::ExitCode;

use cts_client::CtsClient;
use otc_auth::{load_cloud, LoadOptions};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), cts_client::Error> {
    let cloud = load_cloud(&LoadOptions::from_process(), None)?;
    let client = CtsClient::from_cloud(cloud).await?;
    let trackers = client.list_trackers(None).await?;
    for t in &trackers {
        let bucket = t
            .obs_info
            .as_ref()
            .and_then(|o| o.bucket_name.as_deref())
            .or(t.bucket_name.as_deref());
        println!(
            "{} {} {} {} {}",
            t.tracker_name.as_deref().unwrap_or("-"),
            t.tracker_type.as_deref().unwrap_or("-"),
            t.status.as_deref().unwrap_or("-"),
            t.project_id.as_deref().unwrap_or("-"),
            bucket.unwrap_or("-"),
        );
    }
    eprintln!("{} trackers", trackers.len());
    Ok(())
}
