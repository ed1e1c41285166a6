use super::*;
use clap::Parser;

fn parse(args: &[&str]) -> Result<Config, ConfigError> {
    let mut argv = vec!["cts-exporter"];
    argv.extend_from_slice(args);
    let cli = crate::cli::Cli::try_parse_from(argv).expect("clap accepts the flags");
    Config::from_args(&cli.common)
}

fn err(args: &[&str]) -> String {
    parse(args).expect_err("must be refused").to_string()
}

#[test]
fn defaults_match_the_original_exporter() {
    let c = parse(&["--sink", "http://sink.local"]).expect("valid");
    assert_eq!(c.tracker, "system");
    assert_eq!(c.look_back, Duration::from_secs(300));
    assert_eq!(
        c.poll_interval,
        Duration::from_secs(300),
        "CTS_FROM is also the poll interval"
    );
    assert!(!c.debug);
    assert_eq!(c.api, ApiVersion::V3);
    assert_eq!(c.clouds, vec![None]);
    let Output::Sink(s) = &c.output else {
        panic!("CTS_X_PNP defaults to true")
    };
    assert_eq!(s.mode, EventMode::Binary);
    assert_eq!(s.url.as_str(), "http://sink.local/");
    assert_eq!(
        s.oidc_token_file.as_deref(),
        Some(std::path::Path::new("/oidc/token"))
    );
}

#[test]
fn flags_are_parsed_into_meaningful_types() {
    let c = parse(&[
        "--cloud",
        "prod, staging",
        "--from",
        "10",
        "--poll-interval-secs",
        "30",
        "--x-pnp",
        "false",
        "--api-version",
        "v2",
        "--rating",
        "Warning",
        "--service",
        "ECS",
        "--metrics-addr",
        "off",
        "--ce-overrides",
        r#"{"extensions":{"team":"ops"}}"#,
        "--debug",
        "true",
    ])
    .expect("valid");
    assert_eq!(
        c.clouds,
        vec![Some("prod".to_string()), Some("staging".to_string())]
    );
    assert_eq!(c.look_back, Duration::from_secs(600));
    assert_eq!(c.poll_interval, Duration::from_secs(30));
    assert!(
        matches!(c.output, Output::Print),
        "no sink needed for a dry run"
    );
    assert_eq!(c.api, ApiVersion::V2);
    assert_eq!(c.filters.rating.as_deref(), Some("warning"));
    assert_eq!(c.filters.service.as_deref(), Some("ECS"));
    assert_eq!(c.metrics_addr, None);
    assert_eq!(
        c.overrides.extensions.get("team").map(String::as_str),
        Some("ops")
    );
    assert!(c.debug);
}

#[test]
fn every_bad_value_names_its_setting() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "K_SINK"),
        (&["--sink", "not a url"], "K_SINK"),
        (&["--sink", "ftp://x"], "K_SINK"),
        (&["--sink", "http://s", "--from", "0"], "CTS_FROM"),
        (&["--sink", "http://s", "--from", "10801"], "CTS_FROM"),
        (&["--sink", "http://s", "--from", "five"], "CTS_FROM"),
        (&["--sink", "http://s", "--x-pnp", "maybe"], "CTS_X_PNP"),
        (&["--sink", "http://s", "--debug", "sure"], "OS_DEBUG"),
        (
            &["--sink", "http://s", "--ce-overrides", "{bad"],
            "K_CE_OVERRIDES",
        ),
        (
            &["--sink", "http://s", "--api-version", "v4"],
            "CTS_API_VERSION",
        ),
        (&["--sink", "http://s", "--rating", "bad"], "CTS_RATING"),
        (&["--sink", "http://s", "--tracker", "a/b"], "CTS_TRACKER"),
        (&["--sink", "http://s", "--cloud", "a,,b"], "OS_CLOUD"),
        (&["--sink", "http://s", "--cloud", "a,a"], "OS_CLOUD"),
        (
            &["--sink", "http://s", "--event-mode", "batch"],
            "CTS_EVENT_MODE",
        ),
        (
            &["--sink", "http://s", "--concurrency", "0"],
            "CTS_DELIVERY_CONCURRENCY",
        ),
        (
            &[
                "--sink",
                "http://s",
                "--retry-initial-ms",
                "500",
                "--retry-max-ms",
                "100",
            ],
            "CTS_RETRY_MAX_MS",
        ),
        (
            &["--sink", "http://s", "--metrics-addr", "localhost"],
            "CTS_METRICS_ADDR",
        ),
        (
            &["--sink", "http://s", "--ca-certs", "/does/not/exist.pem"],
            "K_CA_CERTS",
        ),
        (
            &[
                "--sink",
                "http://s",
                "--ca-certs",
                "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----",
            ],
            "K_CA_CERTS",
        ),
        (
            &["--sink", "http://s", "--page-size", "201"],
            "CTS_PAGE_SIZE",
        ),
        (
            &["--sink", "http://s", "--state-file", "/tmp/dir/"],
            "CTS_STATE_FILE",
        ),
    ];
    for (args, setting) in cases {
        let e = err(args);
        assert!(e.contains(setting), "{args:?} -> {e}");
        assert!(e.starts_with("invalid "), "{e}");
    }
}

#[test]
fn ca_certs_accepts_pem_text_and_files() {
    let pem = include_str!("../../tests/fixtures/ca.pem");
    let c = parse(&["--sink", "https://s", "--ca-certs", pem]).expect("pem text");
    let Output::Sink(s) = c.output else {
        panic!("sink")
    };
    assert!(s.ca_pem.is_some());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ca.pem");
    assert!(parse(&["--sink", "https://s", "--ca-certs", path]).is_ok());
}

fn backfill(args: &[&str], now_ms: i64) -> Result<BackfillConfig, ConfigError> {
    let mut argv = vec!["cts-exporter", "backfill"];
    argv.extend_from_slice(args);
    let cli = crate::cli::Cli::try_parse_from(argv).expect("clap accepts the flags");
    let Some(crate::cli::Command::Backfill(b)) = cli.command else {
        panic!("backfill")
    };
    BackfillConfig::from_args(&b, now_ms)
}

#[test]
fn backfill_ranges_are_checked_against_retention() {
    let now = 1_714_600_000_000; // 2024-05-01T21:46:40Z
    let ok = backfill(&["--since", "2024-05-01T10:00:00Z"], now).expect("valid");
    assert_eq!(
        ok.source,
        BackfillSource::Api {
            since_ms: 1_714_557_600_000,
            until_ms: now
        }
    );
    let e = backfill(&["--since", "2024-04-01T10:00:00Z"], now)
        .expect_err("too old")
        .to_string();
    assert!(
        e.contains("CTS_BACKFILL_SINCE") && e.contains("7 days") && e.contains("--archive-dir"),
        "{e}"
    );
    let e = backfill(
        &[
            "--since",
            "2024-05-01T10:00:00Z",
            "--until",
            "2024-05-01T09:00:00Z",
        ],
        now,
    )
    .expect_err("reversed")
    .to_string();
    assert!(e.contains("CTS_BACKFILL_UNTIL"), "{e}");
    let e = backfill(&["--since", "yesterday"], now)
        .expect_err("bad")
        .to_string();
    assert!(e.contains("RFC 3339"), "{e}");
    let e = backfill(&[], now).expect_err("nothing").to_string();
    assert!(e.contains("--archive-dir"), "{e}");
    let e = backfill(&["--archive-dir", "/no/such/dir"], now)
        .expect_err("missing")
        .to_string();
    assert!(e.contains("CTS_BACKFILL_ARCHIVE_DIR"), "{e}");
}

#[test]
fn original_extensions_are_off_unless_asked_for() {
    assert!(
        !parse(&["--sink", "http://s"])
            .expect("valid")
            .original_extensions
    );
    let on = parse(&["--sink", "http://s", "--ce-original-extensions", "true"]).expect("valid");
    assert!(on.original_extensions);
    let e = err(&["--sink", "http://s", "--ce-original-extensions", "maybe"]);
    assert!(
        e.contains("CTS_CE_ORIGINAL_EXTENSIONS (--ce-original-extensions)")
            && e.contains("true or false")
            && e.contains("\"maybe\""),
        "{e}"
    );
}
