//! Archive files in the OBS layout of cts-api.md §6, for backfill tests:
//! `CloudTraces/<region>/<Y>/<M>/<D>/system/<ServiceType>/<prefix>_CloudTrace_<region-project>_<upload time>_<hex>.json.gz`.
//! Month and day are not zero-padded, as in every documented example.
//! One file holds the traces of one project and service recorded in one
//! transfer period (5 minutes by default); the JSON layout is a top-level
//! array unless asked otherwise (the real layout is \[UNKNOWN\]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Datelike, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::ids::sub_seed;
use crate::state::Shared;
use crate::Error;

/// How the traces of one file are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchiveLayout {
    /// `[trace, trace, ...]` (the default, as cts-api.md recommends).
    #[default]
    JsonArray,
    /// One trace object per line.
    Ndjson,
    /// `{"traces": [trace, ...]}`.
    TracesObject,
}

/// Options for [`crate::Emulator::write_archives`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// gzip (`.json.gz`, the OTC default) or plain `.json`.
    pub gzip: bool,
    /// JSON layout inside a file.
    pub layout: ArchiveLayout,
    /// The tracker's file prefix (may be empty); must not contain `/`.
    pub file_prefix: String,
    /// Length of one transfer cycle.
    pub transfer_period: Duration,
    /// "Sort by cloud service": a `<ServiceType>` directory level.
    pub sort_by_service: bool,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            gzip: true,
            layout: ArchiveLayout::JsonArray,
            file_prefix: "cts".to_owned(),
            transfer_period: Duration::from_secs(300),
            sort_by_service: true,
        }
    }
}

/// What [`crate::Emulator::write_archives`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Every file written, in write order.
    pub files: Vec<PathBuf>,
    /// Number of traces written (each visible trace once).
    pub trace_count: usize,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Archive {
        path: path.to_owned(),
        source,
    }
}

fn content(items: &[Bytes], layout: ArchiveLayout) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|b| b.len() + 1).sum::<usize>() + 16);
    let (open, sep, close): (&[u8], &[u8], &[u8]) = match layout {
        ArchiveLayout::JsonArray => (b"[", b",", b"]"),
        ArchiveLayout::Ndjson => (b"", b"\n", b"\n"),
        ArchiveLayout::TracesObject => (b"{\"traces\":[", b",", b"]}"),
    };
    out.extend_from_slice(open);
    for (i, b) in items.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(b);
    }
    out.extend_from_slice(close);
    out
}

/// Writes the archives of every project of `shared` under `dir`.
pub(crate) fn write(
    shared: &Shared,
    dir: &Path,
    opts: &ArchiveOptions,
) -> Result<ArchiveSummary, Error> {
    if opts.file_prefix.contains(['/', '\\']) {
        return Err(Error::config(
            "archive.file_prefix",
            format!("`{}` contains a path separator", opts.file_prefix),
            "use letters, digits, `-`, `_`",
        ));
    }
    let period_ms = opts.transfer_period.as_millis() as i64;
    if period_ms < 1000 {
        return Err(Error::config(
            "archive.transfer_period",
            "shorter than one second",
            "use e.g. 300 s (OTC transfers every few minutes)",
        ));
    }
    let mut summary = ArchiveSummary {
        files: Vec::new(),
        trace_count: 0,
    };
    for project in &shared.projects {
        // (period start, service) -> traces, oldest first.
        let mut groups: BTreeMap<(i64, Box<str>), Vec<Bytes>> = BTreeMap::new();
        {
            let store = match project.store.read() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            for t in store.all() {
                let service: Box<str> = if opts.sort_by_service {
                    t.service_type.clone()
                } else {
                    "".into()
                };
                groups
                    .entry((t.record_time.div_euclid(period_ms) * period_ms, service))
                    .or_default()
                    .push(t.json.clone());
            }
        }
        let info = &project.info;
        let region_project = info.name.replacen('_', "-", 1);
        for ((start, service), items) in groups {
            let seed = sub_seed(
                shared.cfg.seed,
                &["archive", &info.id, &start.to_string(), &service],
            );
            let upload_ms = start + period_ms + (seed % 60_000) as i64;
            let upload = DateTime::<Utc>::from_timestamp_millis(upload_ms).unwrap_or_default();
            let mut path = dir
                .join("CloudTraces")
                .join(&info.region)
                .join(upload.year().to_string());
            path = path
                .join(upload.month().to_string())
                .join(upload.day().to_string())
                .join("system");
            if !service.is_empty() {
                path = path.join(&*service);
            }
            std::fs::create_dir_all(&path).map_err(io_err(&path))?;
            let prefix = if opts.file_prefix.is_empty() {
                String::new()
            } else {
                format!("{}_", opts.file_prefix)
            };
            let ext = if opts.gzip { "json.gz" } else { "json" };
            let name = format!(
                "{prefix}CloudTrace_{region_project}_{}_{seed:016x}.{ext}",
                upload.format("%Y-%m-%dT%H-%M-%SZ")
            );
            let file = path.join(name);
            let data = content(&items, opts.layout);
            let bytes = if opts.gzip {
                let mut enc = GzEncoder::new(Vec::new(), Compression::default());
                enc.write_all(&data).map_err(io_err(&file))?;
                enc.finish().map_err(io_err(&file))?
            } else {
                data
            };
            std::fs::write(&file, bytes).map_err(io_err(&file))?;
            summary.trace_count += items.len();
            summary.files.push(file);
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let items = [
            Bytes::from_static(b"{\"a\":1}"),
            Bytes::from_static(b"{\"a\":2}"),
        ];
        assert_eq!(
            content(&items, ArchiveLayout::JsonArray),
            b"[{\"a\":1},{\"a\":2}]"
        );
        assert_eq!(
            content(&items, ArchiveLayout::Ndjson),
            b"{\"a\":1}\n{\"a\":2}\n"
        );
        assert_eq!(
            content(&items, ArchiveLayout::TracesObject),
            b"{\"traces\":[{\"a\":1},{\"a\":2}]}"
        );
        assert_eq!(content(&[], ArchiveLayout::JsonArray), b"[]");
    }
}
