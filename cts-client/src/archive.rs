//! Reading CTS archive files (the OBS layout of cts-api.md §6) as a stream.
//!
//! The layout of a file's JSON is undocumented, so every plausible one is
//! accepted: a JSON array of traces, one trace per line (NDJSON), a single
//! trace object, or `{"traces": [...]}`; plain `.json` or gzip `.json.gz`.
//! A file is parsed one trace at a time, from memory when its content is at
//! most [`IN_MEMORY_FILE_BYTES`] and as a stream beyond, so memory does not
//! grow with the file. A trace that does not decode is counted and skipped;
//! a file that is not JSON at all stops at the broken point and is reported.
//! Digest files (integrity records, not traces) are skipped.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::Trace;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// What one file held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Traces decoded and handed on.
    pub traces: u64,
    /// Elements that were JSON but not a trace.
    pub bad: u64,
}

/// A file that could not be read to the end.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed.
    Io(std::io::Error),
    /// The content is not JSON in any accepted layout.
    Json(String),
    /// The consumer asked to stop (shutdown).
    Stopped,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "cannot read: {e}"),
            ReadError::Json(e) => write!(f, "not a JSON trace file ({e})"),
            ReadError::Stopped => f.write_str("stopped"),
        }
    }
}

#[path = "archive_identity.rs"]
mod identity;
pub use identity::{identify, is_region, Hints, IdentifyError, Identity, Mixed, Project};

const STOP: &str = "\u{0}stopped";

/// True for trace files: `.json` or `.json.gz`, not under a `Digest` folder nor a digest file.
pub fn is_trace_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let is_json = name.ends_with(".json") || name.ends_with(".json.gz");
    let digest =
        name.contains("CloudTrace-Digest") || path.components().any(|c| c.as_os_str() == "Digest");
    is_json && !digest
}

/// What a file's place in the OBS layout and its name say about its traces
/// (cts-api.md §6): `.../CloudTraces/<region>/<Y>/<M>/<D>/<tracker>/[<Service>/]`
/// `<prefix>_CloudTrace_<region or region-project>_<time>Z_<hex>.json[.gz]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileContext {
    /// The `<region>` folder after the last `CloudTraces` folder.
    pub region: Option<String>,
    /// The `<tracker>` folder.
    pub tracker: Option<String>,
    /// The `<region>` or `<region>-<project>` part of the file name.
    pub region_project: Option<String>,
}

/// Reads the region, tracker and `<region>-<project>` part from `path`; parts
/// that are not there (a file outside the layout, a renamed file) are `None`.
pub fn file_context(path: &Path) -> FileContext {
    let comps: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut ctx = FileContext::default();
    if let Some(i) = comps.iter().rposition(|c| c == "CloudTraces") {
        // CloudTraces/R/Y/M/D/tracker/[service/]file: the file is at i+6 or later.
        if comps.len() > i + 2 {
            ctx.region = Some(comps[i + 1].clone());
        }
        if comps.len() > i + 6 {
            ctx.tracker = Some(comps[i + 5].clone());
        }
    }
    let name = comps.last().map(String::as_str).unwrap_or_default();
    if let Some(at) = name.rfind("CloudTrace_") {
        if at == 0 || name[..at].ends_with('_') {
            let rest = &name[at + "CloudTrace_".len()..];
            let rest = rest
                .strip_suffix(".json.gz")
                .or_else(|| rest.strip_suffix(".json"))
                .unwrap_or(rest);
            let parts: Vec<&str> = rest.rsplitn(3, '_').collect();
            if let [_hex, time, token] = parts[..] {
                if time.ends_with('Z') && !token.is_empty() {
                    ctx.region_project = Some(token.to_string());
                }
            }
        }
    }
    ctx
}

/// What the files of an archive say ([`file_context`]): each distinct value
/// with the first file (in the given order) that says it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    /// The `<region>` folders.
    pub regions: BTreeMap<String, PathBuf>,
    /// The `<tracker>` folders.
    pub trackers: BTreeMap<String, PathBuf>,
    /// The `<region>` or `<region>-<project>` parts of the file names.
    pub region_projects: BTreeMap<String, PathBuf>,
}

/// Collects [`file_context`] over `files`.
pub fn layout(files: &[PathBuf]) -> Layout {
    let mut l = Layout::default();
    for f in files {
        let c = file_context(f);
        for (value, map) in [
            (c.region, &mut l.regions),
            (c.tracker, &mut l.trackers),
            (c.region_project, &mut l.region_projects),
        ] {
            if let Some(v) = value {
                map.entry(v).or_insert_with(|| f.clone());
            }
        }
    }
    l
}

/// True for a 32-character hexadecimal id (the form of OTC project ids).
pub fn is_hex_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The project id in a trace's `resource_url`, when it has one of the
/// project-scoped API forms OTC's services use: `/v<N>[.<M>]/<id>/...`
/// (ECS, EVS, VPC, ELB, KMS), `/<prefix>/v<N>/<id>/...` (AS) and
/// `/<prefix>/v<N>/projects/<id>/...` (CCE), with a 32-hex id. IAM's own
/// `/v3/projects/<id>` names the project acted on, not the trace's, and is
/// not read.
pub fn url_project_id(resource_url: &str) -> Option<&str> {
    let segs: Vec<&str> = resource_url.split('/').collect();
    if segs.first().is_none_or(|s| !s.is_empty()) {
        return None;
    }
    let is_version = |s: &str| {
        s.strip_prefix('v').is_some_and(|d| {
            d.starts_with(|c: char| c.is_ascii_digit())
                && d.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
    };
    let at = (1..=2).find(|&i| segs.get(i).is_some_and(|s| is_version(s)))?;
    match (segs.get(at + 1), segs.get(at + 2)) {
        (Some(id), _) if is_hex_id(id) => Some(id),
        (Some(&"projects"), Some(id)) if at == 2 && is_hex_id(id) => Some(id),
        _ => None,
    }
}

/// The CTS host of `region` as OTC's catalog names it (cts-api.md §7):
/// `cts.<region>.otc.t-systems.com`, Swiss OTC (`eu-ch2`) under `.sc.`. An
/// archive's traces carry no endpoint; this is the one their source names.
pub fn regional_cts_url(region: &str) -> url::Url {
    let host = if region == "eu-ch2" {
        format!("https://cts.{region}.sc.otc.t-systems.com/")
    } else {
        format!("https://cts.{region}.otc.t-systems.com/")
    };
    url::Url::parse(&host)
        .unwrap_or_else(|_| url::Url::parse("https://cts.invalid/").expect("a valid URL"))
}

/// The first project id in a trace's `resource_url` ([`url_project_id`],
/// lower-cased; only looked for when `want_project`) and the first non-blank
/// `user.domain.id` of the traces of `files`, reading no further than needed.
pub fn first_ids(files: &[PathBuf], want_project: bool) -> (Option<String>, Option<String>) {
    let (mut project, mut domain) = (None, None);
    for f in files {
        let _ = read_file(f, &mut |t| {
            if want_project && project.is_none() {
                project = t
                    .resource_url
                    .as_deref()
                    .and_then(url_project_id)
                    .map(str::to_ascii_lowercase);
            }
            if domain.is_none() {
                domain = t
                    .user
                    .as_ref()
                    .and_then(|u| u.domain.as_ref())
                    .and_then(|d| d.id.as_deref())
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(str::to_string);
            }
            domain.is_none() || (want_project && project.is_none())
        });
        if domain.is_some() && (project.is_some() || !want_project) {
            break;
        }
    }
    (project, domain)
}

/// Every file under `dir` (recursively, sorted by path): `(trace files, skipped files)`.
pub fn list_files(dir: &Path) -> std::io::Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if is_trace_file(&path) {
                files.push(path);
            } else {
                skipped.push(path);
            }
        }
    }
    files.sort();
    skipped.sort();
    Ok((files, skipped))
}

/// Files whose content (after gunzip) is at most this many bytes are read
/// into memory and parsed from there; larger ones are parsed as a stream, so
/// memory stays bounded whatever a file holds. Parsing from memory takes
/// about half the time of parsing from a reader, which serde_json reads byte
/// by byte (`cargo bench -p cts-client --bench decode`, `read_slice` against
/// `read_stream`), and archive files are small: CTS writes one per few
/// minutes of traces.
pub const IN_MEMORY_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Streams every trace of `path` into `emit`; `emit` returns false to stop.
pub fn read_file(path: &Path, emit: &mut dyn FnMut(Trace) -> bool) -> Result<FileStats, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let mut reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            64 * 1024,
            file,
        )))
    } else {
        Box::new(file)
    };
    let mut head = Vec::new();
    if let Err(e) = (&mut reader)
        .take(IN_MEMORY_FILE_BYTES + 1)
        .read_to_end(&mut head)
    {
        // A file unreadable part way (a cut gzip stream): the traces before
        // the broken point are handed on, as a stream would have, then the
        // read error is reported.
        return match read_slice(&head, emit) {
            Err(ReadError::Stopped) => Err(ReadError::Stopped),
            _ => Err(ReadError::Io(e)),
        };
    }
    if head.len() as u64 <= IN_MEMORY_FILE_BYTES {
        return read_slice(&head, emit);
    }
    let rest = std::io::Cursor::new(head).chain(reader);
    read_stream(BufReader::with_capacity(64 * 1024, rest), emit)
}

/// Streams every trace of a JSON document (any accepted layout) into `emit`.
pub fn read_stream<R: Read>(
    reader: R,
    emit: &mut dyn FnMut(Trace) -> bool,
) -> Result<FileStats, ReadError> {
    read_all(serde_json::Deserializer::from_reader(reader), emit)
}

/// As [`read_stream`], for a document already in memory.
pub fn read_slice(
    document: &[u8],
    emit: &mut dyn FnMut(Trace) -> bool,
) -> Result<FileStats, ReadError> {
    read_all(serde_json::Deserializer::from_slice(document), emit)
}

fn read_all<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    emit: &mut dyn FnMut(Trace) -> bool,
) -> Result<FileStats, ReadError> {
    let mut stats = FileStats::default();
    loop {
        if de.end().is_ok() {
            return Ok(stats);
        }
        let root = Root {
            sink: &mut Sink {
                emit,
                stats: &mut stats,
            },
        };
        if let Err(e) = root.deserialize(&mut de) {
            return Err(if e.to_string().starts_with(STOP) {
                ReadError::Stopped
            } else if e.is_io() {
                ReadError::Io(std::io::Error::other(e.to_string()))
            } else {
                ReadError::Json(e.to_string())
            });
        }
    }
}

struct Sink<'a> {
    emit: &'a mut dyn FnMut(Trace) -> bool,
    stats: &'a mut FileStats,
}

impl Sink<'_> {
    /// Decodes one element; false when the consumer wants to stop.
    fn take(&mut self, v: Value) -> bool {
        self.decoded(serde_json::from_value::<Trace>(v))
    }

    /// Decodes one element from its JSON text (no `Value` in between).
    fn take_text(&mut self, text: &str) -> bool {
        self.decoded(Trace::from_json_str(text))
    }

    fn decoded(&mut self, trace: serde_json::Result<Trace>) -> bool {
        match trace {
            Ok(t) => {
                self.stats.traces += 1;
                (self.emit)(t)
            }
            Err(e) => {
                self.stats.bad += 1;
                tracing::warn!(error = %e, "archive element is not a trace; skipped");
                true
            }
        }
    }
}

/// The top level: an array, an object (a trace, or a `traces` wrapper).
struct Root<'s, 'a> {
    sink: &'s mut Sink<'a>,
}

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of traces, a trace object or {\"traces\": [...]}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Elements { sink: self.sink }.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut single = Map::new();
        let mut wrapped = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "traces" {
                wrapped = true;
                map.next_value_seed(Elements {
                    sink: &mut *self.sink,
                })?;
            } else {
                single.insert(key, map.next_value::<Value>()?);
            }
        }
        if !wrapped && !self.sink.take(Value::Object(single)) {
            return Err(de::Error::custom(STOP));
        }
        Ok(())
    }
}

/// An array of trace objects (or null).
struct Elements<'s, 'a> {
    sink: &'s mut Sink<'a>,
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of traces")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            if !self.sink.take_text(raw.get()) {
                return Err(de::Error::custom(STOP));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
