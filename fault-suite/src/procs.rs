//! The processes under test: started with a clean environment, each
//! incarnation logging to a file of its own under the run directory, killed
//! with SIGKILL on purpose, stopped with SIGTERM at the end, and watched for
//! exits nobody asked for (a crash counts against the run).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// How to start one process: program, arguments and its whole environment.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The binary.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The complete environment (nothing is inherited).
    pub env: Vec<(String, String)>,
}

impl Spec {
    /// A spec for `program` with `PATH` and `HOME` of this process, no arguments.
    pub fn new(program: PathBuf) -> Spec {
        let mut env = Vec::new();
        for key in ["PATH", "HOME"] {
            if let Ok(v) = std::env::var(key) {
                env.push((key.to_string(), v));
            }
        }
        Spec {
            program,
            args: Vec::new(),
            env,
        }
    }

    /// Sets (or replaces) one environment variable.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.env.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.env.push((key.to_string(), value)),
        }
    }
}

/// An exit that nobody asked for.
#[derive(Debug, Clone)]
pub struct Unexpected {
    /// Process name.
    pub name: String,
    /// How it ended.
    pub status: String,
    /// Its log file.
    pub log: PathBuf,
}

/// One process of the suite, across its restarts.
#[derive(Debug)]
pub struct Managed {
    /// Short name (`sink-1`, `exporter-a`, ...), also the log file prefix.
    pub name: String,
    /// How it is started; may change between incarnations.
    pub spec: Spec,
    log_dir: PathBuf,
    child: Option<Child>,
    incarnation: u32,
    started_at: Option<std::time::Instant>,
}

impl Managed {
    /// A process that is not started yet.
    pub fn new(name: &str, spec: Spec, log_dir: &Path) -> Managed {
        Managed {
            name: name.to_string(),
            spec,
            log_dir: log_dir.to_path_buf(),
            child: None,
            incarnation: 0,
            started_at: None,
        }
    }

    /// The log file of the current (or last) incarnation.
    pub fn log(&self) -> PathBuf {
        self.log_of(self.incarnation)
    }

    /// The log file of incarnation `n` (the first is 1).
    pub fn log_of(&self, n: u32) -> PathBuf {
        self.log_dir.join(format!("{}.{n}.log", self.name))
    }

    /// How often the process was started.
    pub fn incarnations(&self) -> u32 {
        self.incarnation
    }

    /// Time since the current incarnation was started.
    pub fn uptime(&self) -> std::time::Duration {
        self.started_at.map(|t| t.elapsed()).unwrap_or_default()
    }

    /// Starts a new incarnation (the previous one must have ended).
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("{} is already running", self.name);
        }
        self.incarnation += 1;
        let log = self.log();
        let out = std::fs::File::create(&log)
            .with_context(|| format!("creating the log file {}", log.display()))?;
        let err = out.try_clone().context("duplicating a log file handle")?;
        let mut cmd = Command::new(&self.spec.program);
        cmd.args(&self.spec.args)
            .env_clear()
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            // Its own process group: a Ctrl-C in the terminal reaches only the
            // suite, which then stops everything; and a suite that dies takes
            // its children with it.
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().with_context(|| {
            format!(
                "starting {} ({}); build it first (scripts/faults does)",
                self.name,
                self.spec.program.display()
            )
        })?;
        self.child = Some(child);
        self.started_at = Some(std::time::Instant::now());
        Ok(())
    }

    /// SIGKILL, then reap. Returns the pid that was killed.
    pub async fn kill(&mut self) -> anyhow::Result<u32> {
        let Some(mut child) = self.child.take() else {
            bail!("{} is not running, so it cannot be killed", self.name);
        };
        let pid = child.id().unwrap_or(0);
        child
            .kill()
            .await
            .with_context(|| format!("SIGKILL to {} (pid {pid})", self.name))?;
        Ok(pid)
    }

    /// SIGTERM, then waits up to `bound` for the exit; SIGKILL after that.
    /// Returns the exit status (`None` when the bound passed) and how long it took.
    pub async fn terminate(
        &mut self,
        bound: Duration,
    ) -> anyhow::Result<(Option<ExitStatus>, Duration)> {
        let Some(mut child) = self.child.take() else {
            bail!("{} is not running, so it cannot be stopped", self.name);
        };
        let started = Instant::now();
        if let Some(pid) = child.id() {
            send_sigterm(pid).await?;
        }
        match tokio::time::timeout(bound, child.wait()).await {
            Ok(status) => Ok((
                Some(status.with_context(|| format!("waiting for {}", self.name))?),
                started.elapsed(),
            )),
            Err(_) => {
                let _ = child.kill().await;
                Ok((None, started.elapsed()))
            }
        }
    }

    /// If the process ended on its own, reaps it and says how.
    pub fn check(&mut self) -> Option<Unexpected> {
        let child = self.child.as_mut()?;
        let status = match child.try_wait() {
            Ok(None) => return None,
            Ok(Some(s)) => s.to_string(),
            Err(e) => format!("could not be waited for: {e}"),
        };
        self.child = None;
        Some(Unexpected {
            name: self.name.clone(),
            status,
            log: self.log(),
        })
    }
}

/// Sends SIGTERM with `kill(1)` (the standard library only sends SIGKILL).
async fn send_sigterm(pid: u32) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .status()
        .await
        .context("running kill -TERM (procps)")?;
    if !status.success() {
        bail!("kill -TERM {pid} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sigterm_gives_the_exit_status_and_sigkill_reaps() {
        let dir = std::env::temp_dir().join(format!("fault-suite-procs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut spec = Spec::new(PathBuf::from("sh"));
        spec.args = vec![
            "-c".into(),
            "trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 0.05; done".into(),
        ];
        let mut p = Managed::new("t", spec, &dir);
        p.start().expect("start");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(p.check().is_none(), "still running");
        let (status, _) = p.terminate(Duration::from_secs(5)).await.expect("term");
        assert_eq!(status.map(|s| s.code()), Some(Some(0)));
        let log = std::fs::read_to_string(p.log()).expect("log");
        assert!(log.contains("up") && log.contains("bye"), "{log}");

        p.start().expect("second incarnation");
        assert!(p.log().ends_with("t.2.log"));
        p.kill().await.expect("kill");
        assert!(
            p.check().is_none(),
            "a killed process is not an unexpected exit"
        );

        p.spec.args = vec!["-c".into(), "exit 3".into()];
        p.start().expect("third incarnation");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let u = p.check().expect("exited on its own");
        assert!(u.status.contains('3'), "{}", u.status);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
