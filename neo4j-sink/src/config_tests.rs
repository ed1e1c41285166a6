//! Unit tests of settings parsing and validation.

use super::*;

use clap::{CommandFactory, FromArgMatches};

/// Parses flags only: the environment of the test process (which may hold
/// NEO4J_URI and friends) must not leak into these tests.
fn parse_flags(args: &[&str]) -> RawArgs {
    let cmd = RawArgs::command().mut_args(|a| a.env(None));
    let matches =
        cmd.try_get_matches_from(std::iter::once("neo4j-sink").chain(args.iter().copied()));
    RawArgs::from_arg_matches(&matches.expect("clap parses")).expect("args")
}

fn parse(args: &[&str]) -> RawArgs {
    let mut all = vec!["--neo4j-password", "pw"];
    all.extend_from_slice(args);
    parse_flags(&all)
}

#[test]
fn defaults_are_valid() {
    let s = parse(&[]).validate().expect("valid");
    assert_eq!(s.neo4j.uri, "neo4j://localhost:7687");
    assert_eq!(s.neo4j.user, "neo4j");
    assert_eq!(s.max_body_bytes, 1024 * 1024);
    assert!(
        s.accepted_type_prefixes.is_empty(),
        "every type is accepted by default"
    );
    let narrowed = parse(&["--accepted-type-prefixes", " com.otc.cts.trace. , vpc. ,"])
        .validate()
        .expect("valid");
    assert_eq!(
        narrowed.accepted_type_prefixes,
        vec!["com.otc.cts.trace.".to_string(), "vpc.".to_string()]
    );
    assert_eq!(s.log_format, LogFormat::Json);
    assert!(s.oidc.is_none());
    assert!(s.neo4j.database.is_none());
}

#[test]
fn errors_name_setting_rule_and_value() {
    let e = parse(&["--port", "eighty"])
        .validate()
        .expect_err("bad port");
    let text = e.to_string();
    assert!(text.contains("PORT") && text.contains("--port"), "{text}");
    assert!(
        text.contains("1 to 65535") && text.contains("\"eighty\""),
        "{text}"
    );

    let e = parse(&["--neo4j-uri", "http://x:7474"])
        .validate()
        .expect_err("bad scheme");
    assert_eq!(e.env, "NEO4J_URI");
    let e = parse(&["--batch-max-events", "0"])
        .validate()
        .expect_err("zero batch");
    assert_eq!(e.env, "BATCH_MAX_EVENTS");
    let e = parse(&["--log-format", "xml"])
        .validate()
        .expect_err("bad format");
    assert_eq!(e.env, "LOG_FORMAT");
}

#[test]
fn encrypted_schemes_pass_through() {
    for uri in [
        "neo4j+s://db.example.com:7687",
        "bolt+s://db.example.com",
        "bolt://127.0.0.1:7687",
    ] {
        let s = parse(&["--neo4j-uri", uri]).validate().expect("valid");
        assert_eq!(s.neo4j.uri, uri);
    }
}

#[test]
fn ca_cert_needs_a_verifying_scheme_and_a_pem_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = dir.path().join("ca.crt");
    std::fs::write(
        &pem,
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let pem_arg = pem.to_str().expect("utf-8 path");
    let s = parse(&[
        "--neo4j-uri",
        "neo4j+s://db:7687",
        "--neo4j-ca-cert",
        pem_arg,
    ])
    .validate()
    .expect("CA with neo4j+s");
    assert_eq!(s.neo4j.ca_cert.as_deref(), Some(pem.as_path()));
    assert!(parse(&[])
        .validate()
        .expect("default")
        .neo4j
        .ca_cert
        .is_none());

    let e = parse(&["--neo4j-uri", "bolt+ssc://db", "--neo4j-ca-cert", pem_arg])
        .validate()
        .expect_err("CA with +ssc");
    assert_eq!(e.env, "NEO4J_CA_CERT");
    assert!(e.to_string().contains("use bolt+s://"), "{e}");

    let missing = dir.path().join("missing.crt");
    let e = parse(&[
        "--neo4j-uri",
        "bolt+s://db",
        "--neo4j-ca-cert",
        missing.to_str().expect("utf-8"),
    ])
    .validate()
    .expect_err("missing file");
    assert_eq!(e.env, "NEO4J_CA_CERT");
    assert!(
        e.to_string()
            .contains("cannot read the CA certificate file"),
        "{e}"
    );
}

#[test]
fn password_is_required_and_never_echoed() {
    let e = parse_flags(&[]).validate().expect_err("missing password");
    assert_eq!(e.env, "NEO4J_PASSWORD");
    let s = parse_flags(&["--neo4j-password", "hunter2-secret"])
        .validate()
        .expect("valid");
    assert!(!format!("{s:?}").contains("hunter2-secret"));
    let e = parse_flags(&[
        "--neo4j-password",
        "hunter2-secret",
        "--neo4j-uri",
        "neo4j://u:hunter2-secret@h",
    ])
    .validate()
    .expect_err("credentials in uri");
    assert!(!e.to_string().contains("hunter2-secret"), "{e}");
}

#[test]
fn oidc_settings_hang_together() {
    assert!(parse(&["--oidc-issuer", "https://i"]).validate().is_err());
    let e = parse(&["--oidc-audience", "sink"])
        .validate()
        .expect_err("issuer missing");
    assert_eq!(e.env, "OIDC_ISSUER");
    let e = parse(&["--oidc-audience", "sink", "--oidc-issuer", "https://i"])
        .validate()
        .expect_err("keys missing");
    assert_eq!(e.env, "OIDC_JWKS_FILE");
    let s = parse(&[
        "--oidc-audience",
        "sink",
        "--oidc-issuer",
        "https://i",
        "--oidc-jwks-url",
        "https://i/jwks",
        "--oidc-allowed-subjects",
        "a, b",
    ])
    .validate()
    .expect("valid");
    let oidc = s.oidc.expect("on");
    assert_eq!(oidc.allowed_subjects.expect("list").len(), 2);
    assert_eq!(oidc.min_reload, Duration::from_secs(10), "the default");
    let on = [
        "--oidc-audience",
        "sink",
        "--oidc-issuer",
        "https://i",
        "--oidc-jwks-file",
        "/j.json",
    ];
    let with = |v: &str| {
        let flag = format!("--oidc-jwks-min-reload-secs={v}");
        let mut args = on.to_vec();
        args.push(&flag);
        parse(&args).validate()
    };
    assert_eq!(
        with("1").expect("valid").oidc.expect("on").min_reload,
        Duration::from_secs(1)
    );
    for bad in ["0", "3601", "-1", "ten", ""] {
        let e = with(bad).expect_err(bad);
        assert_eq!(e.env, "OIDC_JWKS_MIN_RELOAD_SECS", "{bad}");
        assert!(e.to_string().contains("--oidc-jwks-min-reload-secs"), "{e}");
    }
}

#[test]
fn the_raw_arguments_never_show_the_neo4j_password_in_debug_output() {
    let raw = parse_flags(&["--neo4j-password", "s3cr3t-Pässwort"]);
    assert_eq!(raw.neo4j.neo4j_password, "s3cr3t-Pässwort");
    let shown = format!("{raw:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("(hidden)"), "{shown}");
    let empty = format!("{:?}", parse_flags(&[]).neo4j);
    assert!(empty.contains("(empty)"), "{empty}");
}
