//! Runs the built `cts-exporter` binary as a child process with a clean
//! environment, collects its output, and stops it with SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cts-exporter");

/// How the process ended.
#[derive(Debug)]
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub struct Exporter {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

fn collect(mut r: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(&mut r);
        let mut line = String::new();
        while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            into.lock().expect("lock").push_str(&line);
            line.clear();
        }
    });
}

impl Exporter {
    /// Starts the binary in `cwd` with only `env` (plus PATH) set.
    pub fn spawn(args: &[&str], env: &[(String, String)], cwd: &Path) -> Exporter {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start cts-exporter");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().expect("stdout"), Arc::clone(&stdout));
        collect(child.stderr.take().expect("stderr"), Arc::clone(&stderr));
        Exporter {
            child,
            stdout,
            stderr,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("lock").clone()
    }

    /// The /healthz and /metrics address, from the start-up log line.
    pub async fn ops_addr(&mut self) -> SocketAddr {
        let start = Instant::now();
        loop {
            let text = self.stderr();
            if let Some(line) = text
                .lines()
                .find(|l| l.contains("serving /healthz and /metrics"))
            {
                let addr = line
                    .split("addr=")
                    .nth(1)
                    .and_then(|s| s.split_whitespace().next())
                    .expect("addr field");
                return addr.parse().expect("socket address");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("exporter exited with {status} before serving metrics:\n{text}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no metrics address logged:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub async fn terminate(mut self, timeout: Duration) -> Finished {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.wait_inner(timeout).await
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no handler runs, nothing is flushed or saved.
    pub async fn kill(mut self) -> Finished {
        let _ = self.child.kill();
        self.wait_inner(Duration::from_secs(10)).await
    }

    /// Waits for the process to exit on its own.
    pub async fn wait(mut self, timeout: Duration) -> Finished {
        self.wait_inner(timeout).await
    }

    async fn wait_inner(&mut self, timeout: Duration) -> Finished {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!(
                    "cts-exporter did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        // Let the reader threads drain the pipes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Finished {
            code: status.code(),
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs a path from the ops server.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// The sum over all clouds of a counter in a /metrics text.
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
