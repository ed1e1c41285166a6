//! Hostile input against the real `neo4j-sink` binary, started as its own
//! process, over real HTTP, writing to the real Neo4j of `NEO4J_URI`
//! (skipped without it unless `NEO4J_REQUIRED=1`).
//!
//! One table of cases (see `cases`, `injection` and `interop`), each with the status and
//! `error` code docs/sink.md promises. While the table runs, good events
//! are sent alongside all the time. Afterwards: the process is still up and
//! healthy, the set of this run's trace ids in Neo4j is exactly the set that
//! was answered 202 (nothing written for a refused event, nothing lost), no
//! injection payload ran (no label, property key or relationship type named
//! after the run exists), and every stored string reads back verbatim.

#[allow(dead_code)]
#[path = "../sink/common.rs"]
mod common;
#[path = "../support/terminate.rs"]
mod terminate;

mod cases;
mod injection;
mod interop;
mod model;
mod process;
mod suite;
