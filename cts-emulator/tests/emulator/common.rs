//! Helpers shared by the integration tests: starting an emulator, getting a
//! token, and a client-side AK/SK signer written for the tests.

use std::time::{SystemTime, UNIX_EPOCH};

use cts_emulator::{Emulator, EmulatorConfig};
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

pub async fn start(cfg: EmulatorConfig) -> Emulator {
    Emulator::start(cfg, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("emulator starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

/// The password token request body of cts-api.md §3.1.
pub fn password_body(emu: &Emulator, scope: Value) -> Value {
    let c = emu.credentials();
    json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": c.username, "password": c.password.expose(), "domain": {"name": emu.domain().name}}}},
        "scope": scope}})
}

/// A token scoped to the named project.
pub async fn token(emu: &Emulator, project_name: &str) -> String {
    let body = password_body(
        emu,
        json!({"project": {"name": project_name, "domain": {"name": emu.domain().name}}}),
    );
    let r = client()
        .post(emu.iam_url().join("v3/auth/tokens").expect("url"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    r.headers()["x-subject-token"]
        .to_str()
        .expect("ascii")
        .to_owned()
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

pub async fn get(url: &Url, headers: &[(&str, String)]) -> Reply {
    let mut req = client().get(url.clone());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    Reply {
        status,
        headers,
        body,
    }
}

/// `<base>/v3/<pid>/traces?<query>` and similar.
pub fn url(emu: &Emulator, path: &str) -> Url {
    emu.base_url()
        .join(path.trim_start_matches('/'))
        .expect("url")
}

/// GET with a project token.
pub async fn get_with_token(emu: &Emulator, token: &str, path: &str) -> Reply {
    get(&url(emu, path), &[("X-Auth-Token", token.to_owned())]).await
}

// ---- test-side AK/SK signing (client view of cts-api.md §4) ----

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    A,
    B,
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// Signs a GET of `url` with the given extra headers; returns all headers to send.
pub fn signed_headers(
    url: &Url,
    extra: &[(&str, &str)],
    ak: &str,
    sk: &str,
    date: &str,
    variant: Variant,
) -> Vec<(&'static str, String)> {
    let host = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    );
    let mut hs: Vec<(String, String)> =
        vec![("host".into(), host), ("x-sdk-date".into(), date.into())];
    for (k, v) in extra {
        hs.push((k.to_ascii_lowercase(), (*v).to_owned()));
    }
    hs.sort();
    let mut path = url.path().to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    let mut q: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (enc(&k), enc(&v))).collect();
    q.sort();
    let query = q
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canon_headers: String = hs
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed = hs
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "GET\n{path}\n{query}\n{canon_headers}\n{signed}\n{}",
        hex::encode(Sha256::digest(b""))
    );
    let hashed = hex::encode(Sha256::digest(canonical.as_bytes()));
    let auth = match variant {
        Variant::A => {
            let sig = hex::encode(hmac(
                sk.as_bytes(),
                format!("SDK-HMAC-SHA256\n{date}\n{hashed}").as_bytes(),
            ));
            format!("SDK-HMAC-SHA256 Access={ak}, SignedHeaders={signed}, Signature={sig}")
        }
        Variant::B => {
            let day = &date[..8];
            let scope = format!("{day}///sdk_request");
            let k = hmac(format!("SDK{sk}").as_bytes(), day.as_bytes());
            let k = hmac(&hmac(&hmac(&k, b""), b""), b"sdk_request");
            let sig = hex::encode(hmac(
                &k,
                format!("SDK-HMAC-SHA256\n{date}\n{scope}\n{hashed}").as_bytes(),
            ));
            format!(
                "SDK-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={signed}, Signature={sig}"
            )
        }
    };
    let mut out: Vec<(&'static str, String)> =
        vec![("X-Sdk-Date", date.to_owned()), ("Authorization", auth)];
    for (k, v) in extra {
        let k: &'static str = match k.to_ascii_lowercase().as_str() {
            "x-project-id" => "X-Project-Id",
            "x-domain-id" => "X-Domain-Id",
            "content-type" => "Content-Type",
            other => panic!("add {other} to the header table"),
        };
        out.push((k, (*v).to_owned()));
    }
    out
}

/// `X-Sdk-Date` for now plus `offset_secs`.
pub fn sdk_date(offset_secs: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::seconds(offset_secs);
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// All traces of a v3 query, following markers; returns (traces, pages).
pub async fn walk(emu: &Emulator, token: &str, base_path: &str) -> (Vec<Value>, usize) {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &next {
            Some(m) => format!("{base_path}&next={m}"),
            None => base_path.to_owned(),
        };
        let r = get_with_token(emu, token, &path).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        let traces = r.body["traces"].as_array().expect("traces").clone();
        assert_eq!(r.body["meta_data"]["count"], traces.len());
        out.extend(traces.iter().cloned());
        match r.body["meta_data"]["marker"].as_str() {
            Some(m) if !traces.is_empty() => {
                assert_eq!(
                    traces.last().expect("last")["trace_id"],
                    m,
                    "marker = last trace id"
                );
                next = Some(m.to_owned());
            }
            _ => break,
        }
        assert!(pages < 10_000, "endless paging");
    }
    (out, pages)
}
