//! Interop with a sender we did not write: `tools/ce-sender-go` sends with
//! the Go CloudEvents SDK (sdk-go v2.16.2), binary and structured mode, to
//! the real `neo4j-sink` binary. sdk-go writes header values as they are, so
//! the binary events carry raw UTF-8 (`bücket-名前-` + U+202E, `jürgen`) in
//! `ce-subject` and `ce-user`; the events have the original exporter's
//! shape, only a `tenant`, or no context at all.
//!
//! Needs `go` on PATH (the first build fetches sdk-go from the Go module
//! proxy). Without it the test skips with a message, unless `CI=true` or
//! `GO_REQUIRED=1`, where it fails.

use crate::common::{env, graph, run_id};
use crate::process::SinkProcess;
use neo4rs::query;
use std::path::{Path, PathBuf};
use std::process::Command;

const BUCKET: &str = "b\u{fc}cket-\u{540d}\u{524d}-\u{202e}";
const USER: &str = "j\u{fc}rgen\u{1f600}";

/// Builds the sender; `Err` (why) when `go` is missing.
fn build_sender() -> Result<PathBuf, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/ce-sender-go");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ce-sender-go");
    match Command::new("go")
        .arg("build")
        .arg("-o")
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
             v2.16.2 from the Go module proxy): {}",
            src.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        Ok(_) => Ok(out),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_with_the_go_sdk_are_stored_with_their_text_and_context() {
    let test = "events_sent_with_the_go_sdk_are_stored_with_their_text_and_context";
    let Some(env) = env(test) else {
        return;
    };
    let sender = match build_sender() {
        Ok(p) => p,
        Err(why) => {
            let required = std::env::var("CI").as_deref() == Ok("true")
                || std::env::var("GO_REQUIRED").as_deref() == Ok("1");
            if required {
                panic!("{test}: {why}, but CI=true or GO_REQUIRED=1 requires it; install Go 1.23 or later");
            }
            eprintln!("skipping {test}: {why}; install Go to run the sdk-go interop check");
            return;
        }
    };
    let sink = SinkProcess::ready(&env, &[]).await;
    let run = run_id();
    let project = format!("{run}{:020x}", 7);
    let out = Command::new(&sender)
        .args(["-target", &sink.base, "-run", &run, "-project", &project])
        .output()
        .expect("run ce-sender-go");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ce-sender-go failed: {}\n{stdout}\nsink log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        sink.stderr()
    );
    let answers: Vec<(String, u16)> = stdout
        .lines()
        .filter_map(|l| {
            let (id, code) = l.split_once(' ')?;
            Some((id.to_string(), code.trim().parse().ok()?))
        })
        .collect();
    assert_eq!(answers.len(), 6, "{stdout}");
    for (id, code) in &answers {
        assert_eq!(*code, 202, "{id}: sink log:\n{}", sink.stderr());
    }

    let graph = graph(&env);
    for (id, _) in &answers {
        // The bare events name the project only in resource_url and the
        // region only in endpoint (eu-nl); the others send tenant and eu-de.
        let region = if id.contains("-bare-") {
            "eu-nl"
        } else {
            "eu-de"
        };
        let mut rows = graph
            .execute(
                query(
                    "MATCH (a:Action {traceId: $id})-[:APPLIED_ON]->(r:Resource)-[:MEMBER_OF]->(t:Tenant) \
                     RETURN a.projectId AS project, a.region AS region, a.resourceName AS resource, \
                            a.userName AS user, t.projectId AS tenant",
                )
                .param("id", id.as_str()),
            )
            .await
            .expect("query");
        let row = rows
            .next()
            .await
            .expect("row")
            .unwrap_or_else(|| panic!("{id} is not stored"));
        let s = |k: &str| row.get::<String>(k).unwrap_or_else(|_| panic!("{id}: {k}"));
        assert_eq!(s("project"), project, "{id}");
        assert_eq!(s("tenant"), project, "{id}");
        assert_eq!(s("region"), region, "{id}");
        assert_eq!(s("resource"), BUCKET, "{id}");
        assert_eq!(s("user"), USER, "{id}");
    }
    let (code, log) = sink.terminate().await;
    assert_eq!(code, Some(0), "{log}");
}
