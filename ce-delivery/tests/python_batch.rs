//! The batch encoding read by an implementation we did not write: Python's `cloudevents` SDK 2.2.0
//! (tools/ce-python/read_batch.py reads each element of the JSON array with the SDK's JSON-format
//! reader, which validates it). Hostile text (non-ASCII, right-to-left marks, control characters, quotes,
//! percent signs, empty and 100 KB values) in attributes, extensions and data of all three kinds (JSON,
//! text, binary) must come back exactly.
//!
//! The interpreter is `$CE_PYTHON`, else `<workspace>/.local/py-conformance/bin/python` (made by
//! scripts/conformance-python). Without either the test is skipped, and fails instead with
//! PYTHON_REQUIRED=1.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ce_delivery::cloudevents::event::ExtensionValue;
use ce_delivery::cloudevents::{AttributesReader, Data, Event, EventBuilder, EventBuilderV10};
use ce_delivery::encoding::batch;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace holds the crate")
        .to_path_buf()
}

fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("CE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".local/py-conformance/bin/python"));
    if candidate.exists() {
        return Some(candidate);
    }
    assert_ne!(
        std::env::var("PYTHON_REQUIRED").as_deref(),
        Ok("1"),
        "PYTHON_REQUIRED=1 but there is no Python with the cloudevents SDK at {}; run scripts/conformance-python or set CE_PYTHON",
        candidate.display()
    );
    eprintln!(
        "python_batch: skipped: no {} (run scripts/conformance-python once, or set CE_PYTHON)",
        candidate.display()
    );
    None
}

fn hostile() -> Vec<String> {
    vec![
        String::new(),
        " ".into(),
        "jürgen Groß".into(),
        "bücket-名前-\u{202E}".into(),
        "\u{200F}שלום\u{200F}".into(),
        "Иван Петров".into(),
        "emoji-🦀-🚀".into(),
        "tab\tnew\nline\r\u{1}\u{7f}".into(),
        "\"quoted\" 100% {x} \\ back".into(),
        "%C3%BC not an escape %zz".into(),
        "x".repeat(100_000) + "-ü",
    ]
}

fn events() -> Vec<Event> {
    let time = DateTime::<Utc>::from_timestamp_millis(1_796_613_664_495).expect("time");
    hostile()
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let mut b = EventBuilderV10::new()
                .id(format!("id-{i}-{s}"))
                .source(format!("http://cts.example/projects/p/trackers/{i}"))
                .ty("com.otc.cts.trace.ecs.createserver")
                .time(time + chrono::Duration::milliseconds(i as i64))
                .extension("user", s.as_str())
                .extension("project", "p");
            if !s.is_empty() {
                b = b.subject(s.as_str());
            }
            b = match i % 3 {
                0 => b.data(
                    "application/json",
                    json!({"trace_id": format!("id-{i}"), "text": s}),
                ),
                1 => b.data("text/plain", s.clone()),
                _ => b.data("application/octet-stream", s.into_bytes()),
            };
            b.build().expect("a valid event")
        })
        .collect()
}

fn read_with_python(python: &PathBuf, body: &[u8]) -> Vec<Value> {
    let script = workspace().join("tools/ce-python/read_batch.py");
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("write the batch");
    let out = child.wait_with_output().expect("python ends");
    assert!(
        out.status.success(),
        "the Python SDK refused the batch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

#[test]
fn pythons_cloudevents_sdk_reads_every_event_of_a_hostile_batch_exactly() {
    let Some(python) = python() else { return };
    let events = events();
    let body = batch(&events).expect("batch");
    let read = read_with_python(&python, &body);
    assert_eq!(read.len(), events.len());
    for (got, ev) in read.iter().zip(&events) {
        let a = &got["attributes"];
        assert_eq!(a["specversion"], "1.0");
        assert_eq!(a["id"], ev.id(), "id");
        assert_eq!(
            a["source"],
            ev.source().to_string(),
            "source of {}",
            ev.id()
        );
        assert_eq!(a["type"], ev.ty());
        assert_eq!(
            a["subject"].as_str(),
            ev.subject(),
            "subject of {:?}",
            ev.id()
        );
        assert_eq!(
            a["time"].as_i64(),
            ev.time().map(|t| t.timestamp_millis()),
            "time of {:?}",
            ev.id()
        );
        for name in ["user", "project"] {
            let Some(ExtensionValue::String(want)) = ev.extension(name) else {
                panic!("{name} set")
            };
            assert_eq!(
                a[name].as_str(),
                Some(want.as_str()),
                "{name} of {:?}",
                ev.id()
            );
        }
        assert_eq!(a["datacontenttype"].as_str(), ev.datacontenttype());
        let want = match ev.data() {
            Some(Data::Json(v)) => json!({"json": v}),
            Some(Data::String(s)) => json!({"text": s}),
            Some(Data::Binary(b)) => {
                // Base64 written here by the standard alphabet, as the spec's data_base64 requires.
                json!({"base64": base64_std(b)})
            }
            None => Value::Null,
        };
        assert_eq!(got["data"], want, "data of {:?}", ev.id());
    }
}

#[test]
fn python_reads_an_empty_batch_and_a_batch_of_a_thousand() {
    let Some(python) = python() else { return };
    assert!(read_with_python(&python, &batch(&[]).expect("empty")).is_empty());
    let many: Vec<Event> = (0..1000)
        .map(|i| {
            EventBuilderV10::new()
                .id(format!("n{i}"))
                .source("urn:x")
                .ty("t")
                .time(Utc::now())
                .data("application/json", json!({"i": i}))
                .build()
                .expect("event")
        })
        .collect();
    let read = read_with_python(&python, &batch(&many).expect("batch"));
    assert_eq!(read.len(), 1000);
    assert_eq!(read[999]["attributes"]["id"], "n999");
    assert_eq!(read[999]["data"], json!({"json": {"i": 999}}));
}

fn base64_std(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
