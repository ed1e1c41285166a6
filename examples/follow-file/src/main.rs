//! Follows the `system` tracker of one cloud of clouds.yaml (`OS_CLOUD`), one line per trace
//! (`<id> <time ms> <name>`), resuming from a state file. Stops after `max-traces` or `idle-secs`.
use std::{sync::Arc, time::Duration};

use cts_client::follow::{CtsSource, FileCheckpoint, FollowOptions, Followed, Follower};
use otc_auth::{load_cloud, AuthProvider, LoadOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let state = args.get(1).ok_or("usage: follow-file <state-file> [max-traces] [idle-secs]")?;
    let max: usize = args.get(2).map_or(Ok(usize::MAX), |a| a.parse())?;
    let idle = Duration::from_secs(args.get(3).map_or(Ok(1 << 32), |a| a.parse())?);
    let cloud = load_cloud(&LoadOptions::from_process(), None)?;
    let source = CtsSource::connect(Arc::new(AuthProvider::new(cloud)?), "system").await?;
    let (key, checkpoint) = (source.key().unwrap_or("system").to_owned(), FileCheckpoint::open(state)?);
    let mut follower = Follower::start(key, source, checkpoint, FollowOptions::default()).await?;
    let mut printed = 0;
    while printed < max {
        let Ok(Some(item)) = tokio::time::timeout(idle, follower.next()).await else { break };
        if let Followed::Trace(d) = item? {
            let t = &d.trace;
            println!("{} {} {}", t.id().unwrap_or("-"), t.time.unwrap_or(0), t.trace_name.as_deref().unwrap_or("-"));
            d.ack(); // the position moves only past acknowledged traces
            printed += 1;
        }
    }
    Ok(follower.stop().await?)
}
