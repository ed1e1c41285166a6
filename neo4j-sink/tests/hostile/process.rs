//! The real `neo4j-sink` binary as a separate process: started on a free
//! port against the Neo4j of the environment, its stderr collected, killed
//! when the test ends.

use crate::common::Env;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_neo4j-sink");

pub struct SinkProcess {
    pub base: String,
    child: Child,
    stderr: Arc<Mutex<String>>,
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl SinkProcess {
    /// Starts the binary with a clean environment plus `extra`, and waits
    /// until `/readyz` answers 200.
    pub async fn ready(env: &Env, extra: &[(&str, &str)]) -> SinkProcess {
        let port = free_port();
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PORT", port.to_string())
            .env("LISTEN_ADDR", "127.0.0.1")
            .env("NEO4J_URI", &env.uri)
            .env("NEO4J_USER", &env.user)
            .env("NEO4J_PASSWORD", &env.password)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start neo4j-sink");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let into = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                into.lock().expect("lock").push_str(&line);
                line.clear();
            }
        });
        let mut sink = SinkProcess {
            base: format!("http://127.0.0.1:{port}"),
            child,
            stderr,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", sink.base)).send().await {
                if r.status() == 200 {
                    return sink;
                }
            }
            assert!(
                sink.running(),
                "the sink exited before it was ready:\n{}",
                sink.stderr()
            );
            assert!(
                Instant::now() < deadline,
                "the sink was not ready within 120 s:\n{}",
                sink.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// True while the process has not exited.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// SIGTERM, then the exit code (SIGKILL after 30 s).
    pub async fn terminate(mut self) -> (Option<i32>, String) {
        let code = crate::terminate::terminate(&mut self.child, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        (code, self.stderr())
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
