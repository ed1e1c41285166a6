//! Stopping a child process the way Knative does: SIGTERM, then wait.
//! Shared by the hostile-input and secrets tests of neo4j-sink.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Sends SIGTERM and waits for the exit code; SIGKILL (and `None`) after `grace`.
pub async fn terminate(child: &mut Child, grace: Duration) -> Option<i32> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if start.elapsed() > grace {
            let _ = child.kill();
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
