//! Conformance against an implementation nobody here wrote: the exporter's
//! events, with the emulator's non-ASCII user and resource names, received by
//! `tools/ce-conformance-go` (a receiver built on the Go CloudEvents SDK,
//! sdk-go v2.16.2) in binary and in structured mode.
//!
//! The receiver validates each event (spec version, `Validate()`, id = the
//! data's trace id, extension names, time in UTC with `Z`, header values
//! percent-encoded as the HTTP binding says and decoding to the data's text)
//! and writes what it decoded as JSON lines; this test compares those lines
//! with the traces the emulator serves.
//!
//! Needs `go` on PATH (the first build fetches sdk-go from the Go module
//! proxy). Without it the tests skip with a message, unless `CI=true` or
//! `GO_REQUIRED=1`, where they fail.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cts_emulator::{AuthKind, EmulatorConfig};
use serde_json::Value;

use crate::support::exporter::Exporter;
use crate::support::world::{env_with, history, World};

const LONG: Duration = Duration::from_secs(90);

/// Builds the receiver once per test process; `None` when `go` is missing
/// and that is allowed.
fn receiver_binary(test: &str) -> Option<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/ce-conformance-go");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ce-conformance-go");
        match Command::new("go")
            .args(["build", "-buildvcs=false", "-o"])
            .arg(&out)
            .arg(".")
            .current_dir(&src)
            .output()
        {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err("`go` is not on PATH".to_string())
            }
            Err(e) => panic!("cannot run go build: {e}"),
            Ok(o) if !o.status.success() => panic!(
                "go build in {} failed (the first build fetches github.com/cloudevents/sdk-go/v2 \
                 from the Go module proxy):\n{}",
                src.display(),
                String::from_utf8_lossy(&o.stderr)
            ),
            Ok(_) => Ok(out),
        }
    });
    match built {
        Ok(p) => Some(p.clone()),
        Err(why) => {
            let strict = std::env::var("CI").as_deref() == Ok("true")
                || std::env::var("GO_REQUIRED").as_deref() == Ok("1");
            if strict {
                panic!("{test}: {why}, but CI=true or GO_REQUIRED=1 requires the Go conformance receiver; install Go 1.23 or later");
            }
            eprintln!("skipping {test}: {why}; install Go to run the CloudEvents conformance check against sdk-go");
            None
        }
    }
}

/// The running Go receiver; killed on drop.
struct Receiver {
    child: Child,
    url: String,
    out: PathBuf,
}

impl Receiver {
    fn start(bin: &Path, dir: &Path) -> Receiver {
        let out = dir.join("received.jsonl");
        let addr_file = dir.join("receiver.addr");
        let mut child = Command::new(bin)
            .args(["-addr", "127.0.0.1:0", "-out"])
            .arg(&out)
            .arg("-addr-file")
            .arg(&addr_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Go receiver");
        let start = Instant::now();
        let addr = loop {
            if let Ok(a) = std::fs::read_to_string(&addr_file) {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the Go receiver exited with {status} before listening");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the Go receiver did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Receiver {
            child,
            url: format!("http://{}/", addr.trim()),
            out,
        }
    }

    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("the receiver writes JSON lines"))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 400 traces; the seed is chosen so that the sample holds every kind of
/// text the generator makes (checked below, so a generator change that
/// loses one fails here instead of silently testing less).
fn world_config() -> EmulatorConfig {
    EmulatorConfig {
        seed: 27,
        ..history(400, Duration::from_secs(600))
    }
}

fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

async fn run(mode: &str, original_extensions: bool) {
    let test = format!("sdk_go_receives_every_trace_with_its_text_in_{mode}_mode");
    let Some(bin) = receiver_binary(&test) else {
        return;
    };
    let world = World::start(world_config(), AuthKind::Password).await;
    let (_, project_id) = world.project();
    let traces = world.all_traces().await;
    assert_eq!(traces.len(), 400);

    // The sample carries the hostile text this test is about.
    let texts: Vec<String> = traces
        .values()
        .flat_map(|t| {
            [
                t.resource_name.clone(),
                t.user.as_ref().and_then(|u| u.name.clone()),
            ]
        })
        .flatten()
        .collect();
    let non_ascii = texts.iter().filter(|t| !t.is_ascii()).count();
    assert!(non_ascii >= 100, "only {non_ascii} non-ASCII names");
    for probe in ['ü', 'ß', '\u{202E}', '\u{200F}', ' '] {
        assert!(
            texts.iter().any(|t| t.contains(probe)),
            "the sample has no name with {probe:?}"
        );
    }
    for (what, range) in [
        ("CJK", '\u{4E00}'..='\u{9FFF}'),
        ("Cyrillic", '\u{0400}'..='\u{04FF}'),
        ("Greek", '\u{0370}'..='\u{03FF}'),
        ("Arabic", '\u{0600}'..='\u{06FF}'),
        ("emoji", '\u{1F300}'..='\u{1FAFF}'),
    ] {
        assert!(
            texts.iter().any(|t| t.chars().any(|c| range.contains(&c))),
            "the sample has no {what} name"
        );
    }

    let receiver = Receiver::start(&bin, world.cwd());
    let env = env_with(
        world.env(&receiver.url),
        &[
            ("CTS_FROM", "15"),
            ("CTS_EVENT_MODE", mode),
            (
                "CTS_CE_ORIGINAL_EXTENSIONS",
                if original_extensions { "true" } else { "false" },
            ),
        ],
    );
    let exporter = Exporter::spawn(&[], &env, world.cwd());

    let start = Instant::now();
    let records = loop {
        let records = receiver.records();
        let ids: HashSet<&str> = records.iter().filter_map(|r| s(&r["id"])).collect();
        if traces.keys().all(|id| ids.contains(id.as_str())) {
            break records;
        }
        assert!(
            start.elapsed() < LONG,
            "{}/400 traces reached the Go receiver in {LONG:?}; exporter log:\n{}",
            ids.len(),
            exporter.stderr()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let done = exporter.terminate(LONG).await;
    assert_eq!(done.code, Some(0), "{}", done.stderr);

    let problems: Vec<String> = records
        .iter()
        .filter(|r| r["problems"].as_array().is_some_and(|p| !p.is_empty()))
        .map(|r| r.to_string())
        .collect();
    assert!(
        problems.is_empty(),
        "sdk-go found {} invalid events, e.g.:\n{}",
        problems.len(),
        problems
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );

    let mut by_id: HashMap<&str, &Value> = HashMap::new();
    for r in &records {
        assert_eq!(s(&r["mode"]), Some(mode), "{r}");
        let id = s(&r["id"]).expect("id");
        assert!(by_id.insert(id, r).is_none(), "{id} received twice");
    }
    assert_eq!(by_id.len(), 400, "nothing but the emulator's traces");

    let mut checked_non_ascii = 0;
    for (id, t) in &traces {
        let r = by_id[id.as_str()];
        let ext = |name: &str| r["extensions"].get(name).and_then(Value::as_str);
        assert_eq!(s(&r["data_trace_id"]), Some(id.as_str()));
        let want_subject = t
            .resource_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .or(t.resource_id.as_deref())
            .map(str::trim);
        assert_eq!(s(&r["subject"]), want_subject, "subject of {id}");
        let want_user = t.user.as_ref().and_then(|u| u.name.as_deref());
        assert_eq!(ext("user"), want_user, "user of {id}");
        if want_subject.is_some_and(|n| !n.is_ascii()) || want_user.is_some_and(|n| !n.is_ascii()) {
            checked_non_ascii += 1;
        }
        let time = s(&r["time"]).expect("time");
        assert!(time.ends_with('Z'), "{time}");
        let want_ms = t.time.or(t.record_time).expect("trace time");
        let got = chrono::DateTime::parse_from_rfc3339(time).expect("RFC 3339");
        assert_eq!(got.timestamp_millis(), want_ms, "time of {id}");
        assert_eq!(ext("project"), Some(project_id.as_str()));
        if original_extensions {
            assert_eq!(ext("tenant"), Some(project_id.as_str()));
            let rating = t.trace_rating.as_ref().map(|r| r.as_str()).unwrap_or("");
            assert_eq!(ext("status"), Some(rating), "status of {id}");
            assert_eq!(ext("code"), Some(t.code.as_deref().unwrap_or("")));
            assert_eq!(
                ext("resourceid"),
                Some(t.resource_id.as_deref().unwrap_or(""))
            );
        } else {
            assert_eq!(ext("tenant"), None);
        }
    }
    assert!(
        checked_non_ascii >= 100,
        "only {checked_non_ascii} traces with non-ASCII text compared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_go_receives_every_trace_with_its_text_in_binary_mode() {
    run("binary", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_go_receives_every_trace_with_its_text_in_structured_mode() {
    run("structured", false).await;
}
