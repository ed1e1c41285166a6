//! The driver's per-connection notices appear once per process: the real
//! neo4rs driver, bridged from `log` as in the binary, connecting to the real
//! Neo4j several times (skipped without NEO4J_URI, failing instead when
//! NEO4J_REQUIRED=1). Its own process: it installs the global subscriber.

use neo4j_sink::log_noise::DriverNoise;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

/// Records the message of every event that reaches it.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        self.0.lock().expect("capture").push(m.0);
    }
}

#[tokio::test]
async fn routing_and_version_notices_appear_once_over_several_connections() {
    let uri = match std::env::var("NEO4J_URI") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            assert_ne!(
                std::env::var("NEO4J_REQUIRED").as_deref(),
                Ok("1"),
                "NEO4J_REQUIRED=1 but NEO4J_URI is not set"
            );
            eprintln!("driver_noise: skipped: NEO4J_URI not set");
            return;
        }
    };
    // The routing notice is only logged for neo4j:// URIs.
    let uri = uri.replacen("bolt://", "neo4j://", 1);
    let user = std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let password = std::env::var("NEO4J_PASSWORD").unwrap_or_default();
    let capture = Capture::default();
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(DriverNoise::new(false))
        .with(capture.clone())
        .init();

    for _ in 0..3 {
        let graph =
            neo4rs::Graph::new(uri.as_str(), user.as_str(), password.as_str()).expect("graph");
        graph
            .run(neo4rs::query("RETURN 1"))
            .await
            .expect("RETURN 1");
    }
    let seen = capture.0.lock().expect("capture").clone();
    let count = |start: &str| seen.iter().filter(|m| m.starts_with(start)).count();
    assert_eq!(
        count("Client-side routing is in experimental mode"),
        1,
        "{seen:#?}"
    );
    assert_eq!(count("Connected to Neo4j with version"), 1, "{seen:#?}");
    // The other driver lines still pass: a pool is created per Graph.
    assert_eq!(count("creating connection pool"), 3, "{seen:#?}");
}
