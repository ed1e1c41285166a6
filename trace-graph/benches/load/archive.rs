//! `TG_BENCH_ARCHIVE=<dir>`: the bench's traces read from OBS-layout archive
//! files (as `cts-emulator --archive-dir` writes them, and as
//! `cts-exporter backfill --archive-dir` reads them) instead of generated, so
//! the writer is measured on exactly the traces an end-to-end run sent
//! (scripts/bench-e2e).
//!
//! Files are `.json` or `.json.gz` holding a JSON array of traces (the
//! emulator's default layout), read in path order, one file at a time.
//! The context of each trace: the region from the `CloudTraces/<region>/`
//! folder, the project id from `TG_BENCH_PROJECT_ID` (else the
//! `<region>-<project>` part of the file name), the domain from the trace's
//! `user.domain`.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};

use cts_client::Trace;
use trace_graph::{TraceContext, TraceRecord};

pub struct Archive {
    files: VecDeque<PathBuf>,
    pending: VecDeque<TraceRecord>,
    project_id: Option<String>,
    /// Traces handed out so far.
    pub taken: usize,
}

fn fail(msg: String) -> ! {
    eprintln!("TG_BENCH_ARCHIVE: {msg}");
    std::process::exit(2)
}

fn list(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| fail(format!("cannot read the directory {}: {e}", dir.display())));
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            list(&path, out);
        } else {
            let name = path.to_string_lossy();
            if (name.ends_with(".json") || name.ends_with(".json.gz")) && !name.contains("Digest") {
                out.push(path);
            }
        }
    }
}

impl Archive {
    pub fn open(dir: &Path) -> Archive {
        let mut files = Vec::new();
        list(dir, &mut files);
        if files.is_empty() {
            fail(format!(
                "no .json or .json.gz files under {}; write an archive with cts-emulator --archive-dir",
                dir.display()
            ));
        }
        files.sort();
        Archive {
            files: files.into(),
            pending: VecDeque::new(),
            project_id: std::env::var("TG_BENCH_PROJECT_ID").ok(),
            taken: 0,
        }
    }

    fn read_next_file(&mut self) -> bool {
        let Some(path) = self.files.pop_front() else {
            return false;
        };
        let raw = std::fs::read(&path)
            .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", path.display())));
        let text = if path.to_string_lossy().ends_with(".gz") {
            let mut s = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut s)
                .unwrap_or_else(|e| fail(format!("{} is not gzip: {e}", path.display())));
            s
        } else {
            raw
        };
        let traces: Vec<Trace> = serde_json::from_slice(&text).unwrap_or_else(|e| {
            fail(format!(
                "{} is not a JSON array of traces ({e}); write the archive with --archive-layout array",
                path.display()
            ))
        });
        let comps: Vec<String> = path
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let region = comps
            .iter()
            .rposition(|c| c == "CloudTraces")
            .and_then(|i| comps.get(i + 1).cloned())
            .unwrap_or_else(|| "eu-de".to_owned());
        let project = self.project_id.clone().unwrap_or_else(|| {
            let name = comps.last().cloned().unwrap_or_default();
            name.split("_CloudTrace_")
                .nth(1)
                .and_then(|rest| rest.split('_').next())
                .unwrap_or("archive")
                .to_owned()
        });
        for trace in traces {
            let mut ctx = TraceContext::new(project.clone(), region.clone());
            if let Some(d) = trace.user.as_ref().and_then(|u| u.domain.as_ref()) {
                if let Some(id) = &d.id {
                    ctx = ctx.with_domain(id.clone(), d.name.clone());
                }
            }
            self.pending.push_back(TraceRecord::new(trace, ctx));
        }
        true
    }

    /// The next `count` traces; exits with a message when the archive holds fewer.
    pub fn take(&mut self, count: usize) -> Vec<TraceRecord> {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            match self.pending.pop_front() {
                Some(r) => out.push(r),
                None => {
                    if !self.read_next_file() {
                        fail(format!(
                            "the archive holds only {} traces; set TG_BENCH_TOTAL (and TG_BENCH_WARMUP=0) to at most that",
                            self.taken + out.len()
                        ));
                    }
                }
            }
        }
        self.taken += out.len();
        out
    }
}
