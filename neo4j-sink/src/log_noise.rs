//! Keeps the Neo4j driver's per-connection notices to one line per process.
//!
//! neo4rs logs "Client-side routing is in experimental mode…" (WARN) and
//! "Connected to Neo4j with version 4.4" (INFO) every time it opens a
//! connection, so a sink that reconnects after each Neo4j hiccup repeats them
//! without news. [`DriverNoise`] is a `tracing_subscriber` layer that lets the
//! first of each such line through and drops its exact repeats; every other
//! event, the driver's retry and error lines included, passes untouched. With
//! `keep_repeats` (the binary sets it when the log filter asks for debug or
//! trace output) nothing is dropped.

use std::collections::HashSet;
use std::fmt;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Starts of the driver's messages that repeat on every connection.
pub const REPEATED_DRIVER_NOTICES: [&str; 2] = [
    "Client-side routing is in experimental mode",
    "Connected to Neo4j with version",
];

/// The layer; see the module documentation.
#[derive(Debug, Default)]
pub struct DriverNoise {
    seen: Mutex<HashSet<String>>,
    keep_repeats: bool,
}

impl DriverNoise {
    /// A layer that drops repeats, or with `keep_repeats` one that drops nothing.
    pub fn new(keep_repeats: bool) -> Self {
        DriverNoise {
            seen: Mutex::new(HashSet::new()),
            keep_repeats,
        }
    }

    /// Whether an event with this target and message is shown (and, for a
    /// driver notice, remembers that it was).
    pub fn admit(&self, target: &str, message: &str) -> bool {
        if self.keep_repeats
            || !target.starts_with("neo4rs")
            || !REPEATED_DRIVER_NOTICES
                .iter()
                .any(|p| message.starts_with(p))
        {
            return true;
        }
        match self.seen.lock() {
            Ok(mut seen) => seen.insert(message.to_owned()),
            // A poisoned set only means another thread panicked while logging: show the line.
            Err(_) => true,
        }
    }
}

/// The message and, for events bridged from the `log` crate, the original target.
#[derive(Default)]
struct Fields {
    message: String,
    log_target: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "log.target" => self.log_target = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for DriverNoise {
    fn event_enabled(&self, event: &Event<'_>, _ctx: Context<'_, S>) -> bool {
        let target = event.metadata().target();
        // neo4rs logs through the `log` crate: bridged events have the target `log`
        // and carry the real one as the field `log.target`.
        if !target.starts_with("neo4rs") && target != "log" {
            return true;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let target = fields.log_target.as_deref().unwrap_or(target);
        self.admit(target, &fields.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_notice_passes_and_exact_repeats_do_not() {
        let layer = DriverNoise::new(false);
        let routing = "Client-side routing is in experimental mode.It is possible …";
        assert!(layer.admit("neo4rs::connection", routing));
        assert!(!layer.admit("neo4rs::connection", routing));
        assert!(layer.admit("neo4rs::connection", "Connected to Neo4j with version 4.4"));
        assert!(!layer.admit("neo4rs::connection", "Connected to Neo4j with version 4.4"));
        // Another server version is news.
        assert!(layer.admit("neo4rs::connection", "Connected to Neo4j with version 5.0"));
        // Other driver lines and other crates are never dropped.
        for _ in 0..3 {
            assert!(layer.admit("neo4rs::graph", "Retrying query in 1s due to error: x"));
            assert!(layer.admit("neo4j_sink::sink", routing));
        }
    }

    #[test]
    fn keep_repeats_drops_nothing() {
        let layer = DriverNoise::new(true);
        for _ in 0..3 {
            assert!(layer.admit("neo4rs::connection", "Connected to Neo4j with version 4.4"));
        }
    }
}
