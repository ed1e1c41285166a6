//! neo4j-sink
fn main() {
    println!("neo4j-sink {}", env!("CARGO_PKG_VERSION"));
}
