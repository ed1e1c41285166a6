//! Measures how long one Bolt request takes as its size grows, to show the
//! delayed-ACK stall described in <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/performance.md>: neo4rs does not set
//! `TCP_NODELAY`, so a request larger than its 8 KiB write buffer can wait
//! for the server's delayed ACK (about 40 ms on Linux).
//!
//! ```text
//! eval "$(scripts/neo4j-local env)"
//! cargo run --release -p trace-graph --example bolt_latency
//! ```
//!
//! It sends `WITH $p AS r RETURN size(r)` with a string parameter of each
//! size, ten times in explicit transactions, and prints the mean time of the
//! statement alone. It reads nothing and writes nothing in the database.

use neo4rs::{query, BoltType, Graph};
use std::process::ExitCode;
use std::time::Instant;

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(uri) = std::env::var("NEO4J_URI") else {
        eprintln!("NEO4J_URI is not set; run: eval \"$(scripts/neo4j-local env)\"");
        return ExitCode::from(2);
    };
    let user = std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let password = std::env::var("NEO4J_PASSWORD").unwrap_or_default();
    let graph = match Graph::new(uri.as_str(), user.as_str(), password.as_str()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("cannot use {uri}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("| request parameter | mean time of the statement |");
    println!("|---|---|");
    for size in [100usize, 7_000, 9_000, 20_000, 70_000, 200_000, 1_000_000] {
        let param = BoltType::from("x".repeat(size));
        let mut total = 0u128;
        for _ in 0..10 {
            let result = async {
                let mut txn = graph.start_txn().await?;
                let start = Instant::now();
                txn.run(query("WITH $p AS r RETURN size(r)").param("p", param.clone()))
                    .await?;
                let spent = start.elapsed().as_micros();
                txn.commit().await?;
                Ok::<_, neo4rs::Error>(spent)
            }
            .await;
            match result {
                Ok(spent) => total += spent,
                Err(e) => {
                    eprintln!("request of {size} bytes failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        println!("| {size} bytes | {:.1} ms |", total as f64 / 10_000.0);
    }
    ExitCode::SUCCESS
}
