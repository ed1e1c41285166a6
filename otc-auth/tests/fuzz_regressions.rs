//! Replays every input under `fuzz/regressions/clouds_yaml/` (crashes the fuzzer found,
//! plus a few seeds) through the harness of the `clouds_yaml` fuzz target, on stable
//! with plain `cargo test`. The harness is the fuzz target's own code, included
//! here, so a fixed crash stays fixed. The repository's docs/fuzzing.md describes the targets.

#[path = "../../fuzz/harness/clouds_yaml.rs"]
mod harness;

#[path = "../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn every_regression_input_is_handled_without_panic() {
    replay::replay_all(env!("CARGO_MANIFEST_DIR"), "clouds_yaml", harness::run);
}

/// The harness feeds files and environment the way its docs say: the seed
/// with a clouds file, a secure file and an environment loads as expected.
#[test]
fn the_harness_input_format_reaches_the_loader() {
    let data = replay::read_input(
        env!("CARGO_MANIFEST_DIR"),
        "clouds_yaml",
        "seed-secure-and-env",
    );
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
