//! The Neo4j server for the workspace's Neo4j tests, chosen automatically.
//!
//! [`server`] decides once per test process, in this order:
//!
//! 1. `NEO4J_URI` is set (with `NEO4J_USER`, `NEO4J_PASSWORD`): that server, e.g. the one
//!    `eval "$(scripts/neo4j-local env)"` describes.
//! 2. Otherwise, when a container engine answers (`DOCKER_HOST`, or `/var/run/docker.sock` when
//!    `DOCKER_HOST` is unset, answers `GET /_ping`): a Neo4j 5.26 container started with the
//!    `testcontainers` crates. It is named [`CONTAINER_NAME`] and reused by every later test process,
//!    so the suite starts Neo4j once; remove it with `docker rm -f cloudtrace-exporter-test-neo4j`.
//! 3. Otherwise the test is skipped with a message naming `scripts/neo4j-local`, or fails instead
//!    when `NEO4J_REQUIRED=1`.
//!
//! [`choose`] is that decision as a pure function of its inputs, so it is tested without a server or
//! an engine; [`engine_answers`] is the probe.

use std::io::{Read, Write};
use std::sync::OnceLock;
use std::time::Duration;

/// The Neo4j image tag the container path runs (the version the project supports).
pub const NEO4J_IMAGE_TAG: &str = "5.26";
/// The name of the (reused) test container.
pub const CONTAINER_NAME: &str = "cloudtrace-exporter-test-neo4j";
/// The password of the test container (Neo4j 5 wants at least 8 characters).
const CONTAINER_PASSWORD: &str = "cloudtrace-tests";
/// The socket the Docker engine listens on when `DOCKER_HOST` is unset.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// A Neo4j server the tests can use.
#[derive(Clone)]
pub struct Server {
    /// Bolt URI, e.g. `bolt://127.0.0.1:7687`.
    pub uri: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Where the server came from.
    pub source: Source,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("uri", &self.uri)
            .field("user", &self.user)
            .field("password", &"***")
            .field("source", &self.source)
            .finish()
    }
}

/// Where a [`Server`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `NEO4J_URI` (e.g. scripts/neo4j-local).
    Env,
    /// A testcontainers Neo4j container.
    Container,
}

/// What the environment offers, fed to [`choose`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// The value of `NEO4J_URI`, if set.
    pub neo4j_uri: Option<String>,
    /// Whether a container engine answered its ping.
    pub engine_answers: bool,
    /// `NEO4J_REQUIRED=1`.
    pub required: bool,
}

/// The decision [`server`] acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Use the server `NEO4J_URI` names.
    Uri(String),
    /// Start (or reuse) the Neo4j test container.
    Container,
    /// Skip the test; the message says why and what to do.
    Skip(String),
    /// Fail the test (NEO4J_REQUIRED=1); the message says why and what to do.
    Fail(String),
}

const NO_SERVER: &str = "NEO4J_URI is not set and no container engine answers \
    (DOCKER_HOST, /var/run/docker.sock); start a local server with `scripts/neo4j-local start` \
    and run `eval \"$(scripts/neo4j-local env)\"`, or make Docker reachable";

/// Decides where the Neo4j tests run; see the crate documentation for the order.
pub fn choose(inputs: &Inputs) -> Choice {
    match inputs.neo4j_uri.as_deref().map(str::trim) {
        Some(uri) if !uri.is_empty() => Choice::Uri(uri.to_owned()),
        _ if inputs.engine_answers => Choice::Container,
        _ if inputs.required => Choice::Fail(format!("NEO4J_REQUIRED=1 but {NO_SERVER}")),
        _ => Choice::Skip(format!("skipped: {NO_SERVER}")),
    }
}

/// Whether a Docker-compatible engine answers `GET /_ping` at `docker_host` (a `DOCKER_HOST`
/// value: `unix:///path` or `tcp://host:port`), or at [`DEFAULT_DOCKER_SOCKET`] when `None`.
/// Any other scheme, a refused connection, a timeout or an answer other than HTTP 200 is `false`.
pub fn engine_answers(docker_host: Option<&str>) -> bool {
    let timeout = Duration::from_secs(2);
    let host = docker_host.map(str::trim).filter(|h| !h.is_empty());
    match host {
        None => ping_unix(DEFAULT_DOCKER_SOCKET, timeout),
        Some(h) => {
            if let Some(path) = h.strip_prefix("unix://") {
                ping_unix(path, timeout)
            } else if let Some(addr) = h.strip_prefix("tcp://") {
                ping_tcp(addr.trim_end_matches('/'), timeout)
            } else {
                false
            }
        }
    }
}

#[cfg(unix)]
fn ping_unix(path: &str, timeout: Duration) -> bool {
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(s) => {
            let _ = s.set_read_timeout(Some(timeout));
            let _ = s.set_write_timeout(Some(timeout));
            ping(s)
        }
        Err(_) => false,
    }
}

#[cfg(not(unix))]
fn ping_unix(_path: &str, _timeout: Duration) -> bool {
    false
}

fn ping_tcp(addr: &str, timeout: Duration) -> bool {
    use std::net::ToSocketAddrs;
    let Ok(mut addrs) = addr.to_socket_addrs() else {
        return false;
    };
    addrs.any(
        |a| match std::net::TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(timeout));
                let _ = s.set_write_timeout(Some(timeout));
                ping(s)
            }
            Err(_) => false,
        },
    )
}

/// Sends `GET /_ping` and accepts only an HTTP 200 status line.
fn ping(mut s: impl Read + Write) -> bool {
    if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                n += k;
                if buf[..n].contains(&b'\n') {
                    break;
                }
            }
        }
    }
    let line = String::from_utf8_lossy(&buf[..n]);
    let mut parts = line.split_whitespace();
    matches!(
        (parts.next(), parts.next()),
        (Some(v), Some("200")) if v.starts_with("HTTP/1.")
    )
}

fn env_inputs() -> Inputs {
    let neo4j_uri = std::env::var("NEO4J_URI").ok();
    let has_uri = neo4j_uri.as_deref().is_some_and(|u| !u.trim().is_empty());
    Inputs {
        // The probe only runs when it matters.
        engine_answers: !has_uri && engine_answers(std::env::var("DOCKER_HOST").ok().as_deref()),
        neo4j_uri,
        required: std::env::var("NEO4J_REQUIRED").as_deref() == Ok("1"),
    }
}

/// The server for the test named `test`, or `None` (after printing why) when it should be skipped.
///
/// Panics when `NEO4J_REQUIRED=1` and there is no server, and when the container engine answers but
/// the container does not start: both are test failures with a message saying what to do.
pub fn server(test: &str) -> Option<Server> {
    static CHOSEN: OnceLock<Result<Server, Choice>> = OnceLock::new();
    let chosen = CHOSEN.get_or_init(|| match choose(&env_inputs()) {
        Choice::Uri(uri) => Ok(Server {
            uri,
            user: std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into()),
            password: std::env::var("NEO4J_PASSWORD").unwrap_or_default(),
            source: Source::Env,
        }),
        // A failed start is kept too, so the other tests of the process fail at once with the same message.
        Choice::Container => start_container().map_err(Choice::Fail),
        other => Err(other),
    });
    match chosen {
        Ok(s) => Some(s.clone()),
        Err(Choice::Fail(msg)) => panic!("{test}: {msg}"),
        Err(Choice::Skip(msg)) => {
            eprintln!("{test}: {msg}");
            None
        }
        Err(_) => None,
    }
}

/// Starts (or reuses) the Neo4j container on a thread of its own with its own runtime, so it can be
/// called from inside a test's runtime, and leaves it running for the next test process.
fn start_container() -> Result<Server, String> {
    let started = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        rt.block_on(async {
            use testcontainers::{runners::AsyncRunner, ImageExt, ReuseDirective};
            use testcontainers_modules::neo4j::Neo4j;
            let container = Neo4j::new()
                .with_version(NEO4J_IMAGE_TAG)
                .with_password(CONTAINER_PASSWORD)
                .with_container_name(CONTAINER_NAME)
                .with_reuse(ReuseDirective::Always)
                .start()
                .await
                .map_err(|e| e.to_string())?;
            let host = container.get_host().await.map_err(|e| e.to_string())?;
            let port = container
                .image()
                .bolt_port_ipv4()
                .map_err(|e| e.to_string())?;
            // A reused container is never removed on drop; the next test process finds it by name.
            Ok::<_, String>(format!("bolt://{host}:{port}"))
        })
    })
    .join();
    match started {
        Ok(Ok(uri)) => {
            eprintln!("Neo4j tests: testcontainers Neo4j {NEO4J_IMAGE_TAG} at {uri} ({CONTAINER_NAME})");
            Ok(Server {
                uri,
                user: "neo4j".into(),
                password: CONTAINER_PASSWORD.into(),
                source: Source::Container,
            })
        }
        Ok(Err(e)) => Err(format!(
            "a container engine answers, but the Neo4j {NEO4J_IMAGE_TAG} test container did not \
             start: {e}; fix the engine, or set NEO4J_URI (e.g. eval \"$(scripts/neo4j-local env)\")"
        )),
        Err(_) => Err("the thread starting the Neo4j test container panicked".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(uri: Option<&str>, engine: bool, required: bool) -> Inputs {
        Inputs {
            neo4j_uri: uri.map(str::to_owned),
            engine_answers: engine,
            required,
        }
    }

    #[test]
    fn neo4j_uri_wins_over_an_engine() {
        for (engine, required) in [(false, false), (true, false), (true, true), (false, true)] {
            assert_eq!(
                choose(&inputs(Some("bolt://127.0.0.1:7687"), engine, required)),
                Choice::Uri("bolt://127.0.0.1:7687".into())
            );
        }
    }

    #[test]
    fn engine_without_uri_starts_the_container() {
        assert_eq!(choose(&inputs(None, true, false)), Choice::Container);
        assert_eq!(choose(&inputs(None, true, true)), Choice::Container);
        // A blank NEO4J_URI counts as unset.
        assert_eq!(choose(&inputs(Some("  "), true, false)), Choice::Container);
    }

    #[test]
    fn nothing_skips_or_fails_naming_neo4j_local() {
        match choose(&inputs(None, false, false)) {
            Choice::Skip(m) => assert!(m.contains("scripts/neo4j-local"), "{m}"),
            other => panic!("{other:?}"),
        }
        match choose(&inputs(Some(""), false, true)) {
            Choice::Fail(m) => {
                assert!(m.contains("NEO4J_REQUIRED=1"), "{m}");
                assert!(m.contains("scripts/neo4j-local"), "{m}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let s = Server {
            uri: "bolt://x".into(),
            user: "neo4j".into(),
            password: "s3cr3t-pw".into(),
            source: Source::Env,
        };
        let d = format!("{s:?}");
        assert!(!d.contains("s3cr3t-pw") && d.contains("***"), "{d}");
    }

    /// A one-shot server on a Unix socket that answers every connection with `reply`.
    #[cfg(unix)]
    fn unix_server(reply: &'static [u8]) -> (tempdir::Dir, String) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("engine.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { break };
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf);
                let _ = s.write_all(reply);
            }
        });
        let p = path.to_string_lossy().into_owned();
        (dir, p)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "test-neo4j-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).expect("mkdir");
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn probe_accepts_only_an_http_200_ping() {
        let (_d1, ok) = unix_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK");
        assert!(engine_answers(Some(&format!("unix://{ok}"))));
        let (_d2, refused) = unix_server(b"HTTP/1.1 500 Internal Server Error\r\n\r\n");
        assert!(!engine_answers(Some(&format!("unix://{refused}"))));
        let (_d3, garbage) = unix_server("\u{fffd}ü 200\r\n".as_bytes());
        assert!(!engine_answers(Some(&format!("unix://{garbage}"))));
        let (_d4, silent) = unix_server(b"");
        assert!(!engine_answers(Some(&format!("unix://{silent}"))));
        assert!(!engine_answers(Some("unix:///nonexistent/docker.sock")));
    }

    #[test]
    fn probe_over_tcp_and_unknown_schemes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { break };
                let mut buf = [0u8; 256];
                let _ = s.read(&mut buf);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\nOK");
            }
        });
        assert!(engine_answers(Some(&format!("tcp://{addr}"))));
        // A port nobody listens on (bound, then dropped).
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr");
        assert!(!engine_answers(Some(&format!("tcp://{closed}"))));
        assert!(!engine_answers(Some("ssh://user@host")));
        assert!(!engine_answers(Some("npipe:////./pipe/docker_engine")));
    }
}
