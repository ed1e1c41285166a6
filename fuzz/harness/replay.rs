//! The replay of the regression inputs, shared by the tests that include a fuzz
//! target's harness (`tests/fuzz_regressions.rs` of cts-client, neo4j-sink and
//! otc-auth; docs/fuzzing.md). Not part of any fuzz target.

use std::path::PathBuf;

/// `fuzz/regressions/<target>/<name>`, seen from the crate whose
/// `CARGO_MANIFEST_DIR` is `manifest_dir`.
pub fn input_path(manifest_dir: &str, target: &str, name: &str) -> PathBuf {
    PathBuf::from(manifest_dir)
        .join("../fuzz/regressions")
        .join(target)
        .join(name)
}

/// One regression input (a seed, say), read whole.
pub fn read_input(manifest_dir: &str, target: &str, name: &str) -> Vec<u8> {
    let path = input_path(manifest_dir, target, name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs every file of `fuzz/regressions/<target>/` through `run`, in name
/// order, and fails listing every input that still panics.
pub fn replay_all(manifest_dir: &str, target: &str, run: fn(&[u8])) {
    let dir = input_path(manifest_dir, target, "");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read a regression input");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "inputs that still fail: {failed:#?}");
}
