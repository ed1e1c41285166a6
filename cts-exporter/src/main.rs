//! cts-exporter
fn main() {
    println!("cts-exporter {}", env!("CARGO_PKG_VERSION"));
}
