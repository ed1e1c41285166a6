//! Integration tests of trace-graph: the mapping over fixture files
//! (snapshots), and the writer against a real Neo4j when `NEO4J_URI` is set.

mod db;
mod fixtures;
mod group_commit;
mod long_values;
mod mapping;
mod read_back;
mod retention;
mod synth;
mod tls;
mod warm_up;
mod write;
