//! The built `neo4j-sink` binary as a child process with a clean environment
//! and a free port, its stdout and stderr collected into one string.
//! Shared by the secrets, OIDC and detect process tests, which add their own methods.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_neo4j-sink");

/// A running sink.
pub struct Process {
    pub child: Child,
    output: Arc<Mutex<String>>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Process {
    /// Starts the sink on a free port with only `vars` set.
    #[allow(dead_code)] // each test crate compiles this file; `detect` starts with arguments
    pub fn start(vars: &[(&str, &str)]) -> Process {
        Process::start_with(&[], vars)
    }

    /// Starts `neo4j-sink <args>` (e.g. `detect`) on a free port with only `vars` set.
    pub fn start_with(args: &[&str], vars: &[(&str, &str)]) -> Process {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let mut child = Command::new(BIN)
            .args(args)
            .env_clear()
            .env("PORT", port.to_string())
            .env("LISTEN_ADDR", "127.0.0.1")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let into = Arc::clone(&output);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(pipe);
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    into.lock().expect("lock").push_str(&line);
                    line.clear();
                }
            });
        }
        Process {
            child,
            output,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Everything the process printed so far.
    pub fn output(&self) -> String {
        self.output.lock().expect("lock").clone()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
