//! Follow a CTS tracker without gaps, resumable from a checkpoint.
//!
//! CTS shows a trace some time after it happened, so a poller that only
//! asks "what is new since my last query" loses late traces. This module is
//! the engine cts-exporter runs on, usable by any program:
//!
//! - **Windows** ([`Planner`]): each query covers `(watermark - lateness, now)`,
//!   re-reading the lateness span; catching up is chunked into windows of at
//!   most `max_window`; CTS's seven-day retention is respected.
//! - **De-duplication** ([`Seen`]): overlapping windows fetch a trace more
//!   than once; it is handed out once, with bounded memory.
//! - **Watermark and checkpoint** ([`Checkpoint`], [`FileCheckpoint`]): the
//!   position moves past a window only once every trace of it was
//!   acknowledged, and is saved atomically; a fresh start saves its starting
//!   point before anything is handed out. A restart at any moment, a crash
//!   included, resumes from there: no gap, at most a few repeats.
//! - **Sources** ([`TraceSource`], [`CtsSource`]): the CTS API, or a scripted
//!   source in tests; fatal and transient failures told apart ([`classify`]).
//!
//! - **Backfill** ([`backfill`]): a past range once, from the API or archive
//!   files, into the same [`Deliver`].
//!
//! [`Follower`] hands traces out as a stream the caller acknowledges;
//! [`Poller`] with a [`Deliver`] of your own pushes them instead (what
//! cts-exporter does with its CloudEvents pipeline).
//!
//! # Example
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use cts_client::follow::{CtsSource, FileCheckpoint, FollowOptions, Followed, Follower};
//! use otc_auth::{load_cloud, AuthProvider, LoadOptions};
//!
//! let cloud = load_cloud(&LoadOptions::from_process(), None)?; // clouds.yaml, OS_CLOUD
//! let source = CtsSource::connect(Arc::new(AuthProvider::new(cloud)?), "system").await?;
//! let key = source.key().unwrap_or("system").to_owned();
//! let checkpoint = FileCheckpoint::open("follow-state.json")?;
//! let mut follower = Follower::start(key, source, checkpoint, FollowOptions::default()).await?;
//! while let Some(item) = follower.next().await {
//!     if let Followed::Trace(d) = item? {
//!         println!("{:?} {:?}", d.trace.trace_id, d.trace.trace_name);
//!         d.ack(); // only acknowledged traces let the position move on
//!     }
//! }
//! # Ok(())
//! # }
//! ```

pub mod backfill;
mod checkpoint;
mod follower;
mod poller;
mod seen;
mod source;
mod window;

pub use checkpoint::{
    write_atomic, Checkpoint, DeliveredId, FileCheckpoint, Position, STATE_VERSION,
};
pub use follower::{Delivery, FollowOptions, Followed, Follower};
pub use poller::{
    run_all, stopped, system_clock, Clock, Deliver, Poller, PollerSettings, Progress,
};
pub use seen::{Reported, Seen, REPORTED_CAPACITY};
pub use source::{classify, source_key, CtsSource, FetchError, Fetched, TraceSource};
pub use window::{Plan, Planner, Window, RETENTION_MS};
