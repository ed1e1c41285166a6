//! Follows a cloud's `system` tracker, one line per trace: `follow-file [STATE [MAX [IDLE-SECS]]]`.
use cts_client::follow::{CtsSource, FileCheckpoint, FollowOptions, Followed, Follower};
use otc_auth::{load_cloud, AuthProvider, LoadOptions};
use std::{sync::Arc, time::Duration};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let state = args.next().unwrap_or_else(|| "follow-state.json".into());
    let max: usize = args.next().map_or(Ok(usize::MAX), |a| a.parse())?;
    let idle = Duration::from_secs(args.next().map_or(Ok(1 << 32), |a| a.parse())?);
    let cloud = load_cloud(&LoadOptions::from_process(), None)?; // clouds.yaml, OS_CLOUD
    let source = CtsSource::connect(Arc::new(AuthProvider::new(cloud)?), "system").await?;
    let key = source.key().unwrap_or("system").to_owned();
    let checkpoint = FileCheckpoint::open(state)?;
    let mut follower = Follower::start(key, source, checkpoint, FollowOptions::default()).await?;
    let mut printed = 0;
    while printed < max {
        let Ok(Some(item)) = tokio::time::timeout(idle, follower.next()).await else {
            break;
        };
        if let Followed::Trace(d) = item? {
            println!("{} {:?}", d.trace.id().unwrap_or("-"), d.trace.trace_name);
            d.ack(); // the position moves only past acknowledged traces
            printed += 1;
        }
    }
    Ok(follower.stop().await?)
}
