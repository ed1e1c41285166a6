//! Sends a few CloudEvents to a sink, single or batched, and prints how each ended.
//!
//! ```sh
//! cargo run -p ce-delivery --example send -- http://127.0.0.1:8080/ 10 batch
//! ```
//!
//! Arguments: the sink URL, how many events (default 3), and `batch` for batch mode.

use std::sync::Arc;
use std::time::Duration;

use ce_delivery::cloudevents::{EventBuilder, EventBuilderV10};
use ce_delivery::{
    parse_sink_url, random_jitter, sink_retry, Batching, HttpConfig, HttpTransport, Outcome,
    Overrides, Pipeline, Quiet, RetryPolicy,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let sink = parse_sink_url(
        &args
            .next()
            .unwrap_or_else(|| "http://127.0.0.1:8080/".into()),
    )?;
    let count: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(3);
    let batch = args.next().as_deref() == Some("batch");

    // What Knative would pass in K_CE_OVERRIDES.
    let overrides = Overrides::parse(r#"{"extensions":{"example":"ce-delivery"}}"#)?;
    let transport = Arc::new(HttpTransport::new(&HttpConfig::new(sink))?);
    let mut pipeline = Pipeline::new(
        transport,
        // At most 5 attempts here; a source retries for as long as the sink answers "retry".
        RetryPolicy {
            max_attempts: 5,
            ..sink_retry(Duration::from_millis(200), Duration::from_secs(5))
        },
        8,
        random_jitter(),
    )
    .with_observer(Arc::new(Quiet))
    .with_batching(batch.then(|| Batching::new(100, Duration::from_millis(100))));

    for i in 0..count {
        let mut b = EventBuilderV10::new()
            .id(format!("example-{i}"))
            .source("urn:ce-delivery:example")
            .ty("com.example.greeting")
            .subject("grüße")
            .data("application/json", serde_json::json!({"n": i}));
        for (name, value) in &overrides.extensions {
            b = b.extension(name, value.as_str());
        }
        pipeline.submit(format!("example-{i}"), 0, b.build()?).await;
    }
    pipeline.drain().await;
    for done in pipeline.take_done() {
        match done.outcome {
            Outcome::Acked => println!("{}: acknowledged", done.id),
            Outcome::Rejected { status, reason, .. } => {
                println!("{}: refused ({status:?}): {reason}", done.id)
            }
        }
    }
    Ok(())
}
