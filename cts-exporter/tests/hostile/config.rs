//! Malformed settings the e2e config tests do not cover: broken clouds.yaml
//! and secure.yaml files, K_CE_OVERRIDES of the wrong shape, K_SINK URLs
//! that are no http(s) sink, and a sink nobody answers at.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::fake::{page, traces_in, FakeCloud, CLOUD};
use crate::support::exporter::{Exporter, Finished};

const LONG: Duration = Duration::from_secs(60);

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn run(env: &[(String, String)], cwd: &Path) -> Finished {
    Exporter::spawn(&[], env, cwd).wait(LONG).await
}

fn check(what: &str, done: &Finished, code: i32, needles: &[&str]) {
    let last = done.stderr.lines().last().unwrap_or("");
    println!(
        "{what:<36} exit {:?}: {}",
        done.code,
        last.chars().take(300).collect::<String>()
    );
    assert_eq!(done.code, Some(code), "{what}: {}", done.stderr);
    assert!(!done.stderr.contains("panicked"), "{what}: {}", done.stderr);
    for n in needles {
        assert!(
            done.stderr.contains(n),
            "{what}: {n:?} not in:\n{}",
            done.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_clouds_yaml_exits_78_naming_the_file_and_the_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("clouds.yaml");
    let path = file.to_str().expect("utf-8").to_string();
    let good_auth = "    auth:\n      auth_url: https://iam.eu-de.otc.t-systems.com/v3\n      username: u\n      user_domain_name: OTC0001\n      project_name: eu-de_x\n";
    let laughs = {
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        let mut y = format!("a: &a [{}]\n", ["\"lol\""; 9].join(","));
        for w in names.windows(2) {
            let refs = vec![format!("*{}", w[0]); 9].join(",");
            y.push_str(&format!("{}: &{} [{refs}]\n", w[1], w[1]));
        }
        // 9^9 "lol"s if expanded, in a field the exporter ignores, next to
        // a cloud without password: the answer must come fast, naming that.
        y.push_str("clouds:\n  prod:\n    lol: *i\n    region_name: eu-de\n");
        y.push_str(good_auth);
        y
    };
    // The YAML parser's time grows with the square of the nesting depth (about
    // 1 s at 10,000 levels), so otc-auth refuses more than 64 levels of
    // brackets before parsing: 100,000 levels are answered at once.
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        (
            "YAML syntax error",
            b"clouds:\n  prod: [unclosed\n".to_vec(),
            &["clouds.yaml"],
        ),
        (
            "tab indentation",
            b"clouds:\n\tprod:\n\t\tauth: {}\n".to_vec(),
            &["clouds.yaml"],
        ),
        (
            "a list at the top",
            b"- prod\n- staging\n".to_vec(),
            &["clouds.yaml"],
        ),
        (
            "clouds as a string",
            b"clouds: everything\n".to_vec(),
            &["clouds.yaml"],
        ),
        ("an empty file", Vec::new(), &["clouds.yaml"]),
        (
            "invalid UTF-8",
            b"clouds:\n  pr\xff\xfeod:\n".to_vec(),
            &["clouds.yaml"],
        ),
        (
            "auth as a list",
            b"clouds:\n  prod:\n    auth: [1, 2]\n".to_vec(),
            &["clouds.yaml"],
        ),
        (
            "auth_url not a URL",
            good_auth
                .replace("https://iam.eu-de.otc.t-systems.com/v3", "not a url")
                .as_bytes()
                .to_vec(),
            &["auth_url"],
        ),
        ("a billion laughs", laughs.into_bytes(), &["auth.password"]),
        (
            "nesting 100,000 deep",
            format!("clouds: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            &["clouds.yaml", "deeper than 64"],
        ),
    ];
    for (what, text, needles) in cases {
        let text = if what == "auth_url not a URL" {
            [b"clouds:\n  prod:\n".as_slice(), &text].concat()
        } else {
            text
        };
        std::fs::write(&file, &text).expect("write");
        let e = env(&[
            ("HOME", dir.path().to_str().expect("utf-8")),
            ("OS_CLIENT_CONFIG_FILE", &path),
            ("K_SINK", "http://sink.local"),
            ("CTS_METRICS_ADDR", "off"),
        ]);
        let done = run(&e, dir.path()).await;
        check(what, &done, 78, needles);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_secure_yaml_exits_78_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clouds = dir.path().join("clouds.yaml");
    std::fs::write(&clouds, "clouds:\n  prod:\n    auth:\n      auth_url: https://iam.eu-de.otc.t-systems.com/v3\n      username: u\n      user_domain_name: OTC0001\n      project_name: eu-de_x\n").expect("write");
    let secure = dir.path().join("secure.yaml");
    std::fs::write(
        &secure,
        "clouds:\n  prod:\n    auth: {password: [unclosed\n",
    )
    .expect("write");
    let e = env(&[
        ("HOME", dir.path().to_str().expect("utf-8")),
        ("OS_CLIENT_CONFIG_FILE", clouds.to_str().expect("utf-8")),
        ("OS_CLIENT_SECURE_FILE", secure.to_str().expect("utf-8")),
        ("K_SINK", "http://sink.local"),
        ("CTS_METRICS_ADDR", "off"),
    ]);
    let done = run(&e, dir.path()).await;
    check("broken secure.yaml", &done, 78, &["secure.yaml"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_overrides_and_sink_urls_exit_78_naming_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().to_str().expect("utf-8");
    // One environment string may hold at most 128 KiB.
    let deep = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let cases: Vec<(&str, &str, String, &[&str])> = vec![
        (
            "overrides: a list",
            "K_CE_OVERRIDES",
            "[1]".into(),
            &["K_CE_OVERRIDES", "JSON object"],
        ),
        (
            "overrides: an object value",
            "K_CE_OVERRIDES",
            r#"{"extensions":{"team":{"a":1}}}"#.into(),
            &["K_CE_OVERRIDES", "\"team\"", "string value"],
        ),
        (
            "overrides: a reserved name",
            "K_CE_OVERRIDES",
            r#"{"extensions":{"source":"x"}}"#.into(),
            &["K_CE_OVERRIDES", "context attribute"],
        ),
        (
            "overrides: extensions a list",
            "K_CE_OVERRIDES",
            r#"{"extensions":["team"]}"#.into(),
            &["K_CE_OVERRIDES", "must be an object"],
        ),
        (
            "overrides: an empty name",
            "K_CE_OVERRIDES",
            r#"{"extensions":{"":"x"}}"#.into(),
            &["K_CE_OVERRIDES", "lower-case"],
        ),
        (
            "overrides: nested 50,000 deep",
            "K_CE_OVERRIDES",
            deep,
            &["K_CE_OVERRIDES", "not valid JSON"],
        ),
        (
            "overrides: truncated",
            "K_CE_OVERRIDES",
            r#"{"extensions":{"team":"o"#.into(),
            &["K_CE_OVERRIDES", "not valid JSON"],
        ),
        (
            "sink: ftp",
            "K_SINK",
            "ftp://sink.example/".into(),
            &["K_SINK", "http(s)"],
        ),
        ("sink: no host", "K_SINK", "http://".into(), &["K_SINK"]),
        (
            "sink: mailto",
            "K_SINK",
            "mailto:ops@example.com".into(),
            &["K_SINK", "http(s)"],
        ),
        (
            "sink: port out of range",
            "K_SINK",
            "http://sink:99999/".into(),
            &["K_SINK", "not a URL"],
        ),
        (
            "sink: unclosed IPv6",
            "K_SINK",
            "http://[::1/".into(),
            &["K_SINK", "not a URL"],
        ),
        (
            "sink: relative",
            "K_SINK",
            "/events".into(),
            &["K_SINK", "not a URL"],
        ),
    ];
    for (what, var, value, needles) in cases {
        let mut e = env(&[
            ("HOME", home),
            ("K_SINK", "http://sink.local"),
            ("CTS_METRICS_ADDR", "off"),
        ]);
        e.retain(|(k, _)| k != var);
        e.push((var.to_string(), value));
        let done = run(&e, dir.path()).await;
        check(what, &done, 78, needles);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_nobody_answers_at_is_retried_and_named() {
    let cloud = FakeCloud::start(Arc::new(|q| page(traces_in(q, "unsent", 3), None))).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let clouds = dir.path().join("clouds.yaml");
    std::fs::write(&clouds, cloud.clouds_yaml()).expect("write");
    let e = env(&[
        ("HOME", dir.path().to_str().expect("utf-8")),
        ("OS_CLIENT_CONFIG_FILE", clouds.to_str().expect("utf-8")),
        ("OS_CLOUD", CLOUD),
        ("K_SINK", "http://127.0.0.1:9/"),
        ("CTS_METRICS_ADDR", "off"),
        ("CTS_RETRY_INITIAL_MS", "50"),
        ("CTS_RETRY_MAX_MS", "200"),
        ("CTS_SHUTDOWN_GRACE_SECS", "1"),
    ]);
    let exporter = Exporter::spawn(&[], &e, dir.path());
    let start = std::time::Instant::now();
    while exporter.stderr().matches("retrying").count() < 3 {
        assert!(
            start.elapsed() < LONG,
            "no retries logged:\n{}",
            exporter.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = exporter.terminate(LONG).await;
    check("unreachable sink", &done, 0, &["127.0.0.1:9"]);
}
