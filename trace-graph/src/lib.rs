//! trace-graph
#![deny(missing_docs)]
