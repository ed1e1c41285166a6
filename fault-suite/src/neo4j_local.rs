//! The suite's own Neo4j, through `scripts/neo4j-local` on port 7698 with its
//! data in `.local/neo4j-faults`: the suite stops and resets it, so it must
//! never be the instance the tests share (port 7687, `.local/neo4j`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::Command;

/// Bolt port of the suite's Neo4j.
pub const PORT: u16 = 7698;
/// Data directory of the suite's Neo4j, relative to the repository root.
pub const DIR: &str = ".local/neo4j-faults";

/// How to reach the running instance. The password is the local launcher's
/// (public) development password, or `NEO4J_LOCAL_PASSWORD` when set.
#[derive(Clone)]
pub struct Conn {
    /// Bolt URI.
    pub uri: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("uri", &self.uri)
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// `scripts/neo4j-local` with the suite's settings; its output goes to a log.
#[derive(Debug, Clone)]
pub struct Neo4jLocal {
    repo: PathBuf,
    log: PathBuf,
}

impl Neo4jLocal {
    /// The launcher of the repository at `repo`, logging to `log`.
    pub fn new(repo: &Path, log: &Path) -> Neo4jLocal {
        Neo4jLocal {
            repo: repo.to_path_buf(),
            log: log.to_path_buf(),
        }
    }

    fn command(&self, verb: &str) -> Command {
        let mut cmd = Command::new(self.repo.join("scripts/neo4j-local"));
        cmd.arg(verb)
            .current_dir(&self.repo)
            .env("NEO4J_LOCAL_PORT", PORT.to_string())
            .env("NEO4J_LOCAL_DIR", DIR)
            // Smaller than the shared instance: the suite's graph is small and
            // the machine runs two sinks, two exporters and builds beside it.
            .env("NEO4J_LOCAL_HEAP", "1g")
            .env("NEO4J_LOCAL_PAGECACHE", "512m")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs one verb, its output appended to the log; the time it took.
    async fn run(&self, verb: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let err = log.try_clone().context("duplicating a log file handle")?;
        let status = self
            .command(verb)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .status()
            .await
            .with_context(|| format!("running scripts/neo4j-local {verb}"))?;
        if !status.success() {
            bail!(
                "scripts/neo4j-local {verb} failed ({status}); see {}",
                self.log.display()
            );
        }
        Ok(started.elapsed())
    }

    /// Stops the instance and deletes its data: every run starts empty.
    pub async fn reset(&self) -> anyhow::Result<Duration> {
        self.run("reset").await
    }

    /// Starts the instance and waits until it is ready.
    pub async fn start(&self) -> anyhow::Result<Duration> {
        self.run("start").await
    }

    /// Stops the instance (SIGTERM, a clean shutdown; the data stays).
    pub async fn stop(&self) -> anyhow::Result<Duration> {
        self.run("stop").await
    }

    /// SIGKILL of the instance's JVM (no shutdown, recovery from the
    /// transaction log at the next start), then waits until its Bolt port is
    /// closed. The time from the signal to the closed port.
    pub async fn kill(&self) -> anyhow::Result<Duration> {
        let pid_file = self.repo.join(DIR).join("neo4j.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("reading {}", pid_file.display()))?;
        let pid = pid.trim();
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            bail!("{} does not hold a process id", pid_file.display());
        }
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-KILL", pid])
            .status()
            .await
            .context("running kill")?;
        if !status.success() {
            bail!("kill -KILL {pid} (the suite's Neo4j) failed ({status})");
        }
        while std::net::TcpStream::connect(("127.0.0.1", PORT)).is_ok() {
            if started.elapsed() > Duration::from_secs(30) {
                bail!("Neo4j's port {PORT} is still open 30 s after SIGKILL of pid {pid}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(started.elapsed())
    }

    /// Stops the instance without waiting, for an interrupted run.
    pub fn stop_blocking(&self) {
        let _ = std::process::Command::new(self.repo.join("scripts/neo4j-local"))
            .arg("stop")
            .current_dir(&self.repo)
            .env("NEO4J_LOCAL_PORT", PORT.to_string())
            .env("NEO4J_LOCAL_DIR", DIR)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// The URI, user and password (`scripts/neo4j-local env`).
    pub async fn conn(&self) -> anyhow::Result<Conn> {
        let out = self
            .command("env")
            .stderr(Stdio::null())
            .output()
            .await
            .context("running scripts/neo4j-local env")?;
        if !out.status.success() {
            bail!("scripts/neo4j-local env failed ({})", out.status);
        }
        parse_env(&String::from_utf8_lossy(&out.stdout))
    }
}

/// Reads the `export NAME=value` lines of `neo4j-local env`.
fn parse_env(text: &str) -> anyhow::Result<Conn> {
    let value = |name: &str| -> anyhow::Result<String> {
        let prefix = format!("export {name}=");
        let raw = text
            .lines()
            .find_map(|l| l.trim().strip_prefix(&prefix))
            .with_context(|| format!("scripts/neo4j-local env printed no {name}"))?;
        Ok(shell_unquote(raw))
    };
    Ok(Conn {
        uri: value("NEO4J_URI")?,
        user: value("NEO4J_USER")?,
        password: value("NEO4J_PASSWORD")?,
    })
}

/// Undoes the quoting of bash's `printf %q` for the forms it produces for
/// ordinary values: `'...'`, `$'...'` is not expected, backslash escapes.
fn shell_unquote(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        return inner.to_string();
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_lines_are_read_and_unquoted() {
        let c = parse_env(
            "export NEO4J_URI=neo4j://127.0.0.1:7698\nexport NEO4J_USER=neo4j\nexport NEO4J_PASSWORD=a\\ b\\$c\n",
        )
        .expect("parsed");
        assert_eq!(c.uri, "neo4j://127.0.0.1:7698");
        assert_eq!(c.user, "neo4j");
        assert_eq!(c.password, "a b$c");
        assert!(
            !format!("{c:?}").contains("a b$c"),
            "the password stays out of Debug"
        );
        assert!(parse_env("export NEO4J_URI=x\n").is_err());
    }
}
