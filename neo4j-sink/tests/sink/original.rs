//! The original Go exporter's events, replayed byte for byte to the real
//! `neo4j-sink` binary over a raw TCP connection, then read back from Neo4j.
//!
//! `/work/shared/original-tool-events.http` (in CI: `shared/` beside the
//! clone, i.e. `<workspace>/../shared/`) holds two requests captured from
//! akyriako/cloudtrace-exporter. They have no `project` extension (the
//! original sends `tenant`), an empty `status`, types like
//! `vpc.apicall.subnet.createsubnet` and raw header values.
//!
//! What is sent is the file's bytes with two changes that only restore the
//! HTTP/1.1 wire form the capture was rendered from: the request line
//! `POST /` gets its protocol (` HTTP/1.1`) and the head's line ends are
//! CRLF, as Go's client writes them. Every header line (the `Host:
//! 127.0.0.1:8080` line included, left unchanged: the sink ignores it) and
//! the body go out exactly as in the file; no HTTP client sits in between
//! that could normalise a header.

use crate::common::{env, graph};
use crate::process::SinkProcess;
use neo4rs::query;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/original-tool-events.http"
);
const PROJECT: &str = "1a4d5e5fc6a77416f1a992ac2fe57409";

/// One captured request: its head lines as in the file, and its body.
struct Captured {
    head: Vec<Vec<u8>>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<String> {
        self.head.iter().skip(1).find_map(|line| {
            let text = String::from_utf8_lossy(line);
            let (n, v) = text.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The bytes on the wire.
    fn wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let request_line = &self.head[0];
        out.extend_from_slice(request_line);
        if !request_line.ends_with(b" HTTP/1.1") {
            out.extend_from_slice(b" HTTP/1.1");
        }
        out.extend_from_slice(b"\r\n");
        for line in &self.head[1..] {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reads the capture file: `#` comment lines first, then requests, each a
/// request line, header lines, an empty line and a body of `Content-Length`
/// bytes.
fn captured() -> Vec<Captured> {
    let bytes = std::fs::read(CAPTURE).unwrap_or_else(|e| {
        panic!(
            "cannot read the original tool's captured events at {CAPTURE}: {e}; this test needs \
             the shared reference material (/work/shared, in CI a copy of shared/ beside the \
             clone of the repository)"
        )
    });
    let mut rest: &[u8] = &bytes;
    let mut out = Vec::new();
    loop {
        // Skip comments and blank lines up to the next request line.
        while let Some(line_end) = rest.iter().position(|b| *b == b'\n') {
            let line = &rest[..line_end];
            if line.starts_with(b"#") || line.iter().all(u8::is_ascii_whitespace) {
                rest = &rest[line_end + 1..];
            } else {
                break;
            }
        }
        if rest.iter().all(u8::is_ascii_whitespace) {
            break;
        }
        let mut head = Vec::new();
        loop {
            let end = rest
                .iter()
                .position(|b| *b == b'\n')
                .expect("a request head ends with an empty line");
            let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
            rest = &rest[end + 1..];
            if line.is_empty() {
                break;
            }
            head.push(line.to_vec());
        }
        assert!(
            head[0].starts_with(b"POST /"),
            "{CAPTURE}: a request starts with `POST /`, got {:?}",
            String::from_utf8_lossy(&head[0])
        );
        let mut c = Captured {
            head,
            body: Vec::new(),
        };
        let length: usize = c
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .expect("each captured request has a Content-Length");
        assert!(
            rest.len() >= length,
            "{CAPTURE}: the body is shorter than its Content-Length"
        );
        c.body = rest[..length].to_vec();
        rest = &rest[length..];
        out.push(c);
    }
    out
}

/// Sends `wire` on a fresh connection; the status and the body of the answer.
fn send_raw(base: &str, wire: &[u8]) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect to the sink");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    s.write_all(wire).expect("write the request");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // Keep-alive (the capture has no `Connection: close`): read the head,
    // then exactly Content-Length bytes of body.
    loop {
        let n = s.read(&mut buf).expect("read the answer");
        assert!(
            n > 0,
            "connection closed before a full answer: {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length: usize = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            if answer.len() >= head_end + 4 + length {
                let status = text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .expect("status line");
                return (status, text[head_end + 4..].to_string());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_exporters_events_are_stored_as_they_are() {
    let requests = captured();
    assert_eq!(requests.len(), 2, "{CAPTURE} holds two requests");
    let Some(env) = env("the_original_exporters_events_are_stored_as_they_are") else {
        return;
    };
    // The real binary with its defaults: no type filter, no extra setting.
    let sink = SinkProcess::ready(&env, &[("LOG_LEVEL", "info,neo4j_sink=debug")]).await;
    let graph = graph(&env);
    for r in &requests {
        let base = sink.base.clone();
        let wire = r.wire();
        let (status, body) = tokio::task::spawn_blocking(move || send_raw(&base, &wire))
            .await
            .expect("joined");
        assert!(
            (200..300).contains(&status),
            "{}: {status} {body}\nsink log:\n{}",
            r.header("ce-type").unwrap_or_default(),
            sink.stderr()
        );
    }

    // (trace id, user, resource name, code) as the capture's data says.
    let expected = [
        (
            "ac1c9492-06c0-4627-bb8e-0578a0cc7a31",
            "sven.klein",
            "scratch-stage-39",
            "202",
        ),
        (
            "30dde3e2-bf73-4f1b-99bc-652f0e8d44e3",
            "greta.zimmermann",
            "subnet-stage-93",
            "200",
        ),
    ];
    for (trace_id, user, resource, code) in expected {
        let mut rows = graph
            .execute(
                query(
                    "MATCH (a:Action {traceId: $id})-[:PERFORMED_BY]->(u:User), \
                           (a)-[:APPLIED_ON]->(r:Resource)-[:MEMBER_OF]->(t:Tenant)-[:LOCATED_AT]->(g:Region), \
                           (a)-[:WITH_STATUS]->(s:Status) \
                     RETURN a.projectId AS project, a.region AS region, u.name AS user, \
                            r.name AS resource, t.projectId AS tenant, g.name AS regionNode, \
                            s.name AS status, a.code AS code, a.failed AS failed, \
                            t.domainId AS domain",
                )
                .param("id", trace_id),
            )
            .await
            .expect("query");
        let row = rows.next().await.expect("row").unwrap_or_else(|| {
            panic!("{trace_id} is not stored with its user, resource, tenant and status")
        });
        let s = |k: &str| row.get::<String>(k).unwrap_or_else(|_| panic!("{k}"));
        assert_eq!(s("project"), PROJECT, "{trace_id}");
        assert_eq!(s("tenant"), PROJECT, "{trace_id}");
        assert_eq!(s("region"), "eu-de", "{trace_id}");
        assert_eq!(s("regionNode"), "eu-de", "{trace_id}");
        assert_eq!(s("user"), user, "{trace_id}");
        assert_eq!(s("resource"), resource, "{trace_id}");
        assert_eq!(s("domain"), "cc2d87d27147ba8934614f2ccc84a766");
        // The status extension is empty and the data has no rating (the
        // original drops `trace_rating`): the documented `unknown`; the
        // outcome is still in the code.
        assert_eq!(s("status"), "unknown", "{trace_id}");
        assert_eq!(s("code"), code, "{trace_id}");
        assert!(!row.get::<bool>("failed").expect("failed"), "{trace_id}");
        assert!(
            rows.next().await.expect("row").is_none(),
            "{trace_id}: one action, one tenant"
        );
    }

    // This process stored them (not an earlier run) and said where the
    // project came from.
    let metrics = reqwest::get(format!("{}/metrics", sink.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for (line, n) in [
        ("neo4j_sink_events_total{outcome=\"stored\"}", 2.0),
        (
            "neo4j_sink_context_derived_total{field=\"project\",from=\"tenant_extension\"}",
            2.0,
        ),
        (
            "neo4j_sink_context_derived_total{field=\"project\",from=\"placeholder\"}",
            0.0,
        ),
    ] {
        assert_eq!(
            crate::common::sample(&metrics, line),
            n,
            "{line}\n{metrics}"
        );
    }
    let (code, log) = sink.terminate().await;
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("graph context derived") && log.contains("tenant_extension"),
        "the derivation is logged at debug:\n{log}"
    );
}
