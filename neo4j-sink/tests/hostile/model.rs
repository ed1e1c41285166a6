//! The shape of one hostile case: a request described as data (so the table
//! can be printed), what the sink must answer, and what the graph must hold
//! afterwards.

use futures::stream;
use serde_json::Value;

/// How the body goes on the wire.
pub enum Body {
    /// With `Content-Length`.
    Sized(Vec<u8>),
    /// `Transfer-Encoding: chunked`, no declared length, in 64 KiB chunks.
    Chunked(Vec<u8>),
}

/// One HTTP request.
pub struct Req {
    pub method: reqwest::Method,
    pub path: &'static str,
    /// Raw header values: bytes outside ASCII are sent as they are.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Body,
}

impl Req {
    pub fn post(content_type: Option<&str>, body: Vec<u8>) -> Req {
        Req {
            method: reqwest::Method::POST,
            path: "/",
            headers: content_type
                .map(|ct| vec![("content-type".to_string(), ct.as_bytes().to_vec())])
                .unwrap_or_default(),
            body: Body::Sized(body),
        }
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Req {
        self.headers.retain(|(n, _)| n != name);
        self.headers
            .push((name.to_string(), value.as_ref().to_vec()));
        self
    }

    pub fn without(mut self, name: &str) -> Req {
        self.headers.retain(|(n, _)| n != name);
        self
    }

    pub fn method(mut self, method: reqwest::Method) -> Req {
        self.method = method;
        self
    }

    pub fn path(mut self, path: &'static str) -> Req {
        self.path = path;
        self
    }

    pub fn chunked(mut self) -> Req {
        if let Body::Sized(b) = self.body {
            self.body = Body::Chunked(b);
        }
        self
    }

    /// Sends the request; `Err` is a transport failure (text).
    pub async fn send(self, http: &reqwest::Client, base: &str) -> Result<Answer, String> {
        let mut rb = http.request(self.method, format!("{base}{}", self.path));
        for (name, value) in self.headers {
            let v = reqwest::header::HeaderValue::from_bytes(&value).expect("header value");
            rb = rb.header(name, v);
        }
        rb = match self.body {
            Body::Sized(b) => rb.body(b),
            Body::Chunked(b) => {
                let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                    b.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
                rb.body(reqwest::Body::wrap_stream(stream::iter(chunks)))
            }
        };
        let r = rb.send().await.map_err(|e| format!("{e:?}"))?;
        let status = r.status().as_u16();
        let allow = r
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = r.text().await.map_err(|e| format!("{e:?}"))?;
        Ok(Answer {
            status,
            allow,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        })
    }
}

pub struct Answer {
    pub status: u16,
    pub allow: Option<String>,
    pub body: Value,
}

/// What the sink must answer.
pub enum Expect {
    /// 202 `{"stored": n}`.
    Stored(u64),
    /// This status with `{"error": <code>, "detail": <text>}`.
    Refused(u16, &'static str),
    /// Batch mode: 400 `invalid_events`, listing these (index, error) pairs.
    Partial(Vec<(u64, &'static str)>),
}

/// A read-back: `cypher` with `$id` bound to a trace id returns one string
/// column `v` that must equal `expected`.
pub struct Check {
    pub what: &'static str,
    pub cypher: &'static str,
    pub id: String,
    pub expected: String,
}

pub struct Case {
    pub category: &'static str,
    pub name: String,
    pub req: Req,
    pub expect: Expect,
    /// Trace ids this request carries that must end up stored (once).
    pub stored: Vec<String>,
    /// Trace ids this request carries that must never reach the graph.
    pub absent: Vec<String>,
    pub checks: Vec<Check>,
    /// Words the `detail` of a refusal must contain (the attribute it names).
    pub detail_has: Vec<String>,
}

impl Case {
    pub fn refused(
        category: &'static str,
        name: impl Into<String>,
        req: Req,
        status: u16,
        error: &'static str,
        trace_id: &str,
    ) -> Case {
        Case {
            category,
            name: name.into(),
            req,
            expect: Expect::Refused(status, error),
            stored: Vec::new(),
            absent: vec![trace_id.to_string()],
            checks: Vec::new(),
            detail_has: Vec::new(),
        }
    }

    pub fn stored(
        category: &'static str,
        name: impl Into<String>,
        req: Req,
        trace_ids: &[&str],
    ) -> Case {
        Case {
            category,
            name: name.into(),
            req,
            expect: Expect::Stored(trace_ids.len() as u64),
            stored: trace_ids.iter().map(|s| s.to_string()).collect(),
            absent: Vec::new(),
            checks: Vec::new(),
            detail_has: Vec::new(),
        }
    }

    pub fn check(
        mut self,
        what: &'static str,
        cypher: &'static str,
        id: &str,
        expected: &str,
    ) -> Case {
        self.checks.push(Check {
            what,
            cypher,
            id: id.to_string(),
            expected: expected.to_string(),
        });
        self
    }
}

/// A sender that writes the whole request before it reads the answer (as a
/// simple client does): the status line it reads, or the error it gets.
pub fn write_all_then_read(base: &str, head: &str, body: &[u8]) -> Result<u16, String> {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(request.as_bytes())
        .map_err(|e| format!("writing the head: {e}"))?;
    s.write_all(body)
        .map_err(|e| format!("writing the body: {e}"))?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .map_err(|e| format!("reading the answer: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            format!(
                "no status line in {:?}",
                text.chars().take(200).collect::<String>()
            )
        })
}
