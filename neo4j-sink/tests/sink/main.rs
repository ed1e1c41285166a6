//! Integration tests of the neo4j-sink over real HTTP against the real Neo4j
//! (`NEO4J_URI`, `NEO4J_USER`, `NEO4J_PASSWORD`; skipped without `NEO4J_URI`
//! unless `NEO4J_REQUIRED=1`).

mod common;
mod delivery;
mod errors;
mod go_sender;
mod lifecycle;
mod oidc;
mod original;
#[allow(dead_code)]
#[path = "../hostile/process.rs"]
mod process;
#[path = "../support/terminate.rs"]
mod terminate;
mod tls;
