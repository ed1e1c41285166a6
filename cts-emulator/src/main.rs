//! cts-emulator
fn main() {
    println!("cts-emulator {}", env!("CARGO_PKG_VERSION"));
}
