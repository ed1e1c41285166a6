//! Reading CTS archive files (the OBS layout of cts-api.md §6) as a stream.
//!
//! The layout of a file's JSON is undocumented, so every plausible one is
//! accepted: a JSON array of traces, one trace per line (NDJSON), a single
//! trace object, or `{"traces": [...]}`; plain `.json` or gzip `.json.gz`.
//! Files are parsed incrementally, one trace at a time, so memory does not
//! grow with the file. A trace that does not decode is counted and skipped;
//! a file that is not JSON at all stops at the broken point and is reported.
//! Digest files (integrity records, not traces) are skipped.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use cts_client::Trace;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
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

/// Streams every trace of `path` into `emit`; `emit` returns false to stop.
pub fn read_file(path: &Path, emit: &mut dyn FnMut(Trace) -> bool) -> Result<FileStats, ReadError> {
    let file = File::open(path).map_err(ReadError::Io)?;
    let gz = path.extension().is_some_and(|e| e == "gz");
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            64 * 1024,
            file,
        )))
    } else {
        Box::new(file)
    };
    read_stream(BufReader::with_capacity(64 * 1024, reader), emit)
}

/// Streams every trace of a JSON document (any accepted layout) into `emit`.
pub fn read_stream<R: Read>(
    reader: R,
    emit: &mut dyn FnMut(Trace) -> bool,
) -> Result<FileStats, ReadError> {
    let mut stats = FileStats::default();
    let mut de = serde_json::Deserializer::from_reader(reader);
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
        match serde_json::from_value::<Trace>(v) {
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
        while let Some(v) = seq.next_element::<Value>()? {
            if !self.sink.take(v) {
                return Err(de::Error::custom(STOP));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
