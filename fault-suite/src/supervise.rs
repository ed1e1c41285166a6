//! Supervision of the running processes: starting the sinks and exporters,
//! watching every process while the suite waits (an exit nobody asked for
//! is recorded, and a sink or exporter is started again so the run can still
//! say what else went wrong), the drain until the exporters pass the cut-off,
//! and the final SIGTERM.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::neo4j_local::Conn;
use crate::procs::{Managed, Unexpected};
use crate::profile::Profile;
use crate::report::Shutdown;
use crate::stack::{self, EmulatorInfo, EXPORTERS, SINKS};

/// The running processes and what happened to them.
pub struct Stack {
    pub emulator: Managed,
    pub sinks: Vec<Managed>,
    pub sink_ports: Vec<u16>,
    pub exporters: Vec<Managed>,
    pub exporter_sink: Vec<usize>,
    pub unexpected: Vec<Unexpected>,
    pub started: Instant,
}

impl Stack {
    /// Prints a line with the time since the start.
    pub fn say(&self, what: &str) {
        println!("[{:>6.1} s] {what}", self.started.elapsed().as_secs_f64());
    }

    /// Reaps processes that exited unasked; sinks and exporters are started again.
    fn check_all(&mut self) -> anyhow::Result<()> {
        if let Some(u) = self.emulator.check() {
            self.unexpected.push(u.clone());
            bail!(
                "the emulator exited on its own ({}); its state cannot be restored, see {}",
                u.status,
                u.log.display()
            );
        }
        for p in self.sinks.iter_mut().chain(self.exporters.iter_mut()) {
            if let Some(u) = p.check() {
                println!(
                    "            {} exited on its own ({}), see {}; starting it again",
                    u.name,
                    u.status,
                    u.log.display()
                );
                self.unexpected.push(u);
                p.start()?;
            }
        }
        Ok(())
    }

    /// Drives `fut` to completion while watching the processes.
    pub async fn watch_while<T>(&mut self, fut: impl Future<Output = T>) -> anyhow::Result<T> {
        let mut fut = std::pin::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Ok(out),
                _ = tokio::time::sleep(Duration::from_millis(250)) => self.check_all()?,
            }
        }
    }

    /// Waits `d` while watching the processes.
    pub async fn watch(&mut self, d: Duration) -> anyhow::Result<()> {
        self.watch_while(tokio::time::sleep(d)).await
    }
}

#[allow(clippy::too_many_arguments)]
/// Starts both sinks, waits until they are ready, then starts both exporters.
pub async fn start_sinks_and_exporters(
    bin: &Path,
    run: &Path,
    profile: &Profile,
    conn: &Conn,
    info: &EmulatorInfo,
    emulator: Managed,
    http: &reqwest::Client,
    t0: Instant,
) -> anyhow::Result<Stack> {
    let mut sinks = Vec::new();
    let mut sink_ports = Vec::new();
    for name in SINKS {
        let port = stack::free_port()?;
        let mut s = stack::sink(bin, run, name, port, conn);
        s.start()?;
        sinks.push(s);
        sink_ports.push(port);
    }
    for (s, port) in sinks.iter_mut().zip(&sink_ports) {
        stack::wait_ready(http, s, *port, Duration::from_secs(90)).await?;
    }
    println!(
        "[{:>6.1} s] sinks ready on ports {} and {}",
        t0.elapsed().as_secs_f64(),
        sink_ports[0],
        sink_ports[1]
    );
    // Exporter A starts on sink 1 and B on sink 2; each restart switches
    // its exporter to the other sink.
    let mut exporters = Vec::new();
    for (i, name) in EXPORTERS.iter().enumerate() {
        let mut e = stack::exporter(
            bin,
            run,
            name,
            &info.projects[i],
            &stack::sink_url(sink_ports[i]),
            profile,
        );
        e.start()?;
        exporters.push(e);
    }
    println!(
        "[{:>6.1} s] exporters started: exporter-a ({}) -> sink-1, exporter-b ({}) -> sink-2",
        t0.elapsed().as_secs_f64(),
        info.projects[0].name,
        info.projects[1].name
    );
    Ok(Stack {
        emulator,
        sinks,
        sink_ports,
        exporters,
        exporter_sink: vec![0, 1],
        unexpected: Vec::new(),
        started: t0,
    })
}

/// Waits until both exporters saved a watermark past `cutoff`; false on timeout.
pub async fn drain(
    stack: &mut Stack,
    run: &Path,
    cutoff: i64,
    bound: Duration,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let marks: Vec<Option<i64>> = EXPORTERS
            .iter()
            .map(|n| stack::saved_watermark(&stack::state_file(run, n)))
            .collect();
        if marks.iter().all(|m| m.is_some_and(|w| w > cutoff)) {
            stack.say(&format!(
                "drained: both watermarks passed the cut-off after {:.1} s",
                started.elapsed().as_secs_f64()
            ));
            return Ok(true);
        }
        if started.elapsed() > bound {
            stack.say(&format!(
                "drain timeout after {} s: watermarks {:?}, cut-off {cutoff}",
                bound.as_secs(),
                marks
            ));
            return Ok(false);
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            last_report = Instant::now();
            let behind: Vec<String> = marks
                .iter()
                .map(|m| {
                    m.map_or("none".into(), |w| {
                        format!("{:.1} s", (cutoff - w) as f64 / 1000.0)
                    })
                })
                .collect();
            stack.say(&format!(
                "draining: watermarks behind the cut-off by {}",
                behind.join(", ")
            ));
        }
        stack.watch(Duration::from_millis(500)).await?;
    }
}

/// SIGTERM to `p`, waiting at most `bound` for its exit.
pub async fn stop(p: &mut Managed, bound: Duration) -> anyhow::Result<Shutdown> {
    let (status, took) = p.terminate(bound).await?;
    Ok(Shutdown {
        name: p.name.clone(),
        code: status.and_then(|s| s.code()),
        took,
    })
}
