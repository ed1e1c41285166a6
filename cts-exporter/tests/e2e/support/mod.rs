//! Shared test fixtures: the emulator world, the exporter process, the sink.
#![allow(dead_code)]

pub mod exporter;
pub mod sink;
pub mod world;
