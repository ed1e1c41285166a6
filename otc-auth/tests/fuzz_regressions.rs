//! Replays every input under `fuzz/regressions/clouds_yaml/` (crashes the fuzzer found,
//! plus a few seeds) through the harness of the `clouds_yaml` fuzz target, on stable
//! with plain `cargo test`. The harness is the fuzz target's own code, included
//! here, so a fixed crash stays fixed. docs/fuzzing.md describes the targets.

#[path = "../../fuzz/harness/clouds_yaml.rs"]
mod harness;

use std::path::PathBuf;

fn inputs() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/clouds_yaml");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_regression_input_is_handled_without_panic() {
    let files = inputs();
    assert!(!files.is_empty(), "no regression inputs found");
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).expect("read a regression input");
        if std::panic::catch_unwind(|| harness::run(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "inputs that still fail: {failed:#?}");
}

/// The harness feeds files and environment the way its docs say: the seed
/// with a clouds file, a secure file and an environment loads as expected.
#[test]
fn the_harness_input_format_reaches_the_loader() {
    let data = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/regressions/clouds_yaml/seed-secure-and-env"),
    )
    .expect("seed");
    let config = harness::load(&harness::split(&data)).expect("the seed loads");
    assert_eq!(config.name, "otc");
    assert_eq!(config.region, "eu-nl");
    assert!(config.origin.contains("secure.yaml"), "{}", config.origin);
    match &config.credentials {
        otc_auth::Credentials::Password { password, .. } => {
            assert_eq!(password.expose(), "s3cret-passw0rd")
        }
        other => panic!("expected a password credential, got {other:?}"),
    }
}
