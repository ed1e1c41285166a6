//! The dead-letter file: events the sink refused for good (a 4xx other than
//! 404/408/409/429) and input the event source cannot read at all, one JSON
//! object per line, so nothing is lost silently and an operator can replay
//! them after fixing the cause.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::Error;

/// An append-only NDJSON file, shared by every delivery of a process.
#[derive(Debug)]
pub struct DeadLetter {
    path: PathBuf,
    file: Mutex<File>,
}

impl DeadLetter {
    /// Opens (creating if needed) `path` for appending.
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] if the file cannot be opened for appending.
    pub fn open(path: &Path) -> Result<DeadLetter, Error> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| Error::DeadLetter {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(DeadLetter {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record: `{"id", "status", "reason", "at", "event"}`.
    /// `event` is the structured CloudEvent (or the input record when it could
    /// not become one); `status` the sink's HTTP status, if it answered.
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] if the line cannot be written.
    pub fn write(
        &self,
        id: &str,
        status: Option<u16>,
        reason: &str,
        event: Value,
    ) -> Result<(), Error> {
        let line = json!({
            "id": id,
            "status": status,
            "reason": reason,
            "at": chrono::Utc::now().to_rfc3339(),
            "event": event,
        });
        self.append(serde_json::to_string(&line).map_err(std::io::Error::other))
    }

    /// Appends an input record that could not be read: `{"id", "status": null,
    /// "reason", "at", "event"}` with `event` the record's JSON text exactly
    /// as it came (not re-encoded, so no number or key order changes); text
    /// that is not JSON is kept as a JSON string.
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] if the line cannot be written.
    pub fn write_raw(&self, id: &str, reason: &str, raw_json: &str) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Record<'a> {
            id: &'a str,
            status: Option<u16>,
            reason: &'a str,
            at: String,
            event: &'a RawValue,
        }
        let raw: Box<RawValue> = match RawValue::from_string(raw_json.to_owned()) {
            Ok(r) => r,
            // Not JSON after all: keep the text as a JSON string.
            Err(_) => serde_json::to_string(raw_json)
                .and_then(RawValue::from_string)
                .map_err(|e| self.error(std::io::Error::other(e)))?,
        };
        let record = Record {
            id,
            status: None,
            reason,
            at: chrono::Utc::now().to_rfc3339(),
            event: &raw,
        };
        self.append(serde_json::to_string(&record).map_err(std::io::Error::other))
    }

    /// Calls `f` with the JSON text of every unreadable input record already in the file (the
    /// records [`DeadLetter::write_raw`] wrote with a reason starting with `reason_prefix`),
    /// oldest first, so that a restarted source does not report them again. Other records and
    /// lines that are not JSON (a line cut off by a crash) are skipped.
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] if the file cannot be read.
    pub fn each_raw(&self, reason_prefix: &str, mut f: impl FnMut(&str)) -> Result<(), Error> {
        #[derive(Deserialize)]
        struct Record<'a> {
            status: Option<u16>,
            #[serde(borrow)]
            reason: Cow<'a, str>,
            #[serde(borrow)]
            event: &'a RawValue,
        }
        let mut reader = BufReader::new(File::open(&self.path).map_err(|e| self.error(e))?);
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader
                .read_until(b'\n', &mut line)
                .map_err(|e| self.error(e))?
                == 0
            {
                return Ok(());
            }
            // Most records of a busy file are refused events (with a status): skip them unparsed.
            const NO_STATUS: &[u8] = b"\"status\":null";
            if !line.windows(NO_STATUS.len()).any(|w| w == NO_STATUS) {
                continue;
            }
            let Ok(record) = serde_json::from_slice::<Record>(&line) else {
                continue;
            };
            if record.status.is_some() || !record.reason.starts_with(reason_prefix) {
                continue;
            }
            let text = record.event.get();
            // write_raw keeps text that was not JSON as a JSON string.
            match serde_json::from_str::<String>(text) {
                Ok(unquoted) if text.starts_with('"') => f(&unquoted),
                _ => f(text),
            }
        }
    }

    fn append(&self, text: std::io::Result<String>) -> Result<(), Error> {
        let mut text = text.map_err(|e| self.error(e))?;
        text.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(text.as_bytes())
            .and_then(|()| f.flush())
            .map_err(|e| self.error(e))
    }

    fn error(&self, source: std::io::Error) -> Error {
        Error::DeadLetter {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNDECODABLE_REASON: &str = "the source cannot read this record";

    #[test]
    fn appends_one_json_line_per_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dead.ndjson");
        let dl = DeadLetter::open(&path).expect("open");
        dl.write("a", Some(400), "sink answered 400", json!({"id": "a"}))
            .expect("write");
        dl.write("b", None, "trace has no trace_id", json!({}))
            .expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["id"], "a");
        assert_eq!(lines[0]["status"], 400);
        assert_eq!(lines[1]["status"], Value::Null);
        assert_eq!(lines[0]["event"]["id"], "a");
    }

    #[test]
    fn raw_traces_are_kept_byte_for_byte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dead.ndjson");
        let dl = DeadLetter::open(&path).expect("open");
        let raw = r#"{"trace_id":"t1","time":"yesterday","n":1.50,"z":1,"a":2}"#;
        dl.write_raw("t1", UNDECODABLE_REASON, raw).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains(&format!("\"event\":{raw}}}")), "{text}");
        let line: Value = serde_json::from_str(text.trim_end()).expect("one JSON line");
        assert_eq!(line["id"], "t1");
        assert_eq!(line["status"], Value::Null);
        assert_eq!(line["event"]["time"], "yesterday");
    }

    #[test]
    fn unreadable_traces_are_found_again_after_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dead.ndjson");
        let raw = r#"{"trace_id":"t1","time":"yesterday","n":1.50}"#;
        {
            let dl = DeadLetter::open(&path).expect("open");
            dl.write("a", Some(400), "sink answered 400", json!({"id": "a"}))
                .expect("write");
            dl.write_raw("t1", &format!("{UNDECODABLE_REASON}: bad time"), raw)
                .expect("write");
            dl.write("b", None, "trace has no trace_id", json!({}))
                .expect("write");
            dl.write_raw(
                "t2",
                &format!("{UNDECODABLE_REASON}: cut"),
                "{\"trace_id\": \"t2\"",
            )
            .expect("write");
        }
        // A crash cut the last line short.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(br#"{"id":"t3","status":null,"reason":"the source cannot"#)
            .expect("write");
        let dl = DeadLetter::open(&path).expect("reopen");
        let mut found = Vec::new();
        dl.each_raw(UNDECODABLE_REASON, |t| found.push(t.to_owned()))
            .expect("read");
        assert_eq!(found, [raw, "{\"trace_id\": \"t2\""]);
    }
}
