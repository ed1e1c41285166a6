//! Where a follower's position is kept: the [`Checkpoint`] trait and the
//! [`FileCheckpoint`] that stores it in a JSON file.
//!
//! A [`Position`] is a watermark, the ids delivered within the lateness
//! horizon and, until the first window completes, the floor (the lower edge
//! of the very first window). The follower saves its starting point before
//! it hands out anything, and saves again only after every trace of a window
//! was acknowledged, so a restart at any moment resumes from that first lower
//! edge or a later watermark: never a gap, at most a few repeats.
//!
//! [`FileCheckpoint`] is the format of cts-exporter's state file
//! (`CTS_STATE_FILE`): one JSON file holds every follower, keyed by its
//! source key (endpoint, project and tracker, see [`source_key`]). It is
//! replaced atomically: write a temporary file in the same directory, fsync
//! it, rename it over the old one, fsync the directory. A crash leaves
//! either the old or the new file; a temporary file a crash left behind
//! (killed between write and rename) is never read and is removed at the
//! next open.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::Error;

/// The format version written; other versions are refused with a clear message.
pub const STATE_VERSION: u32 = 1;

/// One follower's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Every trace with a time before this (epoch ms) that CTS showed has been
    /// acknowledged by the caller (or refused for good).
    pub watermark_ms: i64,
    /// Ids delivered within the lateness horizon, with their trace times.
    #[serde(default)]
    pub delivered: Vec<DeliveredId>,
    /// The lower edge of this follower's very first window (epoch ms), kept
    /// while the watermark is still that start: no window reaches back before
    /// it, so a restart in the first window covers exactly what the first
    /// start would have. Absent in files written before it existed (then the
    /// window reaches `lateness` back from the watermark, as for any resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_ms: Option<i64>,
}

/// A delivered trace id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredId {
    /// Trace id.
    pub id: String,
    /// Trace time, epoch ms.
    pub time_ms: i64,
}

/// Stores followers' positions, keyed by their source key.
///
/// `save` must be durable when it returns `Ok` (the follower relies on it:
/// the starting point is saved before anything is handed out) and atomic
/// (a crash leaves the old or the new position, never a mix). An error from
/// `save` of the starting point stops the start; later save errors are
/// reported through [`super::Progress::SaveFailed`] and the follower goes on
/// (a restart would then repeat traces, never skip them).
pub trait Checkpoint: Send + Sync {
    /// The saved position of `key`, `None` when there is none.
    fn load(&self, key: &str) -> impl Future<Output = Result<Option<Position>, Error>> + Send;
    /// Stores `position` for `key`, replacing the previous one.
    fn save(
        &self,
        key: &str,
        position: &Position,
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

impl<C: Checkpoint> Checkpoint for Arc<C> {
    fn load(&self, key: &str) -> impl Future<Output = Result<Option<Position>, Error>> + Send {
        (**self).load(key)
    }
    fn save(
        &self,
        key: &str,
        position: &Position,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        (**self).save(key, position)
    }
}

/// `None` keeps nothing: every start is a fresh start.
impl<C: Checkpoint> Checkpoint for Option<C> {
    async fn load(&self, key: &str) -> Result<Option<Position>, Error> {
        match self {
            Some(c) => c.load(key).await,
            None => Ok(None),
        }
    }
    async fn save(&self, key: &str, position: &Position) -> Result<(), Error> {
        match self {
            Some(c) => c.save(key, position).await,
            None => Ok(()),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    #[serde(default)]
    pollers: BTreeMap<String, Position>,
}

/// Positions in one JSON file (cts-exporter's state-file format), replaced
/// atomically on every save. One file can be shared by several followers
/// (through an `Arc`): each has its own key.
#[derive(Debug)]
pub struct FileCheckpoint {
    path: PathBuf,
    file: Mutex<StateFile>,
}

impl FileCheckpoint {
    /// Loads `path`; a missing file is an empty state (the directory must
    /// exist by the first save). Temporary files an earlier process left next
    /// to it (killed between write and rename) are removed; they are never read.
    pub fn open(path: impl AsRef<Path>) -> Result<FileCheckpoint, Error> {
        let path = path.as_ref();
        remove_leftover_temporaries(path);
        let file = match std::fs::read(path) {
            Ok(bytes) => {
                let f: StateFile =
                    serde_json::from_slice(&bytes).map_err(|e| Error::CheckpointInvalid {
                        path: path.to_path_buf(),
                        problem: e.to_string(),
                    })?;
                if f.version != STATE_VERSION {
                    return Err(Error::CheckpointInvalid {
                        path: path.to_path_buf(),
                        problem: format!(
                            "version {} but this version of cts-client reads and writes version {STATE_VERSION}",
                            f.version
                        ),
                    });
                }
                f
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile {
                version: STATE_VERSION,
                pollers: BTreeMap::new(),
            },
            Err(e) => {
                return Err(Error::CheckpointRead {
                    path: path.to_path_buf(),
                    source: e,
                })
            }
        };
        Ok(FileCheckpoint {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved position of `key`.
    pub fn get(&self, key: &str) -> Option<Position> {
        self.lock().pollers.get(key).cloned()
    }

    /// The keys that have an entry, in order.
    pub fn keys(&self) -> Vec<String> {
        self.lock().pollers.keys().cloned().collect()
    }

    /// The keys with an entry that are not in `used`, in order: positions of
    /// sources no follower of this configuration uses (a source whose
    /// endpoint, project or tracker changed has a new key). They are kept.
    pub fn unused_keys(&self, used: &[&str]) -> Vec<String> {
        let f = self.lock();
        let unused = f.pollers.keys().filter(|k| !used.contains(&k.as_str()));
        unused.cloned().collect()
    }

    /// Records `position` for `key` and writes the whole file atomically
    /// (blocking: a few small writes and two fsyncs).
    pub fn put(&self, key: &str, position: Position) -> Result<(), Error> {
        let mut f = self.lock();
        f.pollers.insert(key.to_string(), position);
        let write_error = |e| Error::CheckpointWrite {
            path: self.path.clone(),
            source: e,
        };
        let bytes = serde_json::to_vec(&*f).map_err(|e| write_error(std::io::Error::other(e)))?;
        write_atomic(&self.path, &bytes).map_err(write_error)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateFile> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Checkpoint for FileCheckpoint {
    async fn load(&self, key: &str) -> Result<Option<Position>, Error> {
        Ok(self.get(key))
    }
    async fn save(&self, key: &str, position: &Position) -> Result<(), Error> {
        self.put(key, position.clone())
    }
}

fn dir_and_name(path: &Path) -> (PathBuf, String) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    (dir, name)
}

/// The prefix of the temporary siblings [`write_atomic`] writes for `name`.
fn temporary_prefix(name: &str) -> String {
    format!(".{name}.tmp.")
}

/// Removes `.<name>.tmp.<pid>` siblings of `path`: what a process killed
/// between writing and renaming left behind. Failures are only logged: the
/// file itself is what counts, and a leftover is never read.
fn remove_leftover_temporaries(path: &Path) {
    let (dir, name) = dir_and_name(path);
    let prefix = temporary_prefix(&name);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        let is_leftover = n
            .strip_prefix(&prefix)
            .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()));
        if !is_leftover {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => tracing::info!(file = %entry.path().display(),
                "removed a temporary checkpoint file an interrupted save left behind; the state file itself is used"),
            Err(e) => tracing::warn!(file = %entry.path().display(), error = %e,
                "cannot remove a temporary checkpoint file an interrupted save left behind; it is ignored"),
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary sibling, fsync, rename
/// over `path`, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, name) = dir_and_name(path);
    let tmp = dir.join(format!("{}{}", temporary_prefix(&name), std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(wm: i64) -> Position {
        Position {
            watermark_ms: wm,
            delivered: vec![DeliveredId {
                id: "a".into(),
                time_ms: wm - 1,
            }],
            floor_ms: None,
        }
    }

    #[test]
    fn missing_file_is_empty_and_saves_roundtrip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        let s = FileCheckpoint::open(&path).expect("open");
        assert_eq!(s.get("src"), None);
        s.put("src", state(100)).expect("save");
        s.put("other", state(7)).expect("save");
        s.put("src", state(200)).expect("save");
        assert_eq!(s.unused_keys(&["src"]), ["other"]);
        assert_eq!(
            s.unused_keys(&["other", "src", "new"]),
            Vec::<String>::new()
        );
        let again = FileCheckpoint::open(&path).expect("reopen");
        assert_eq!(again.get("src"), Some(state(200)));
        assert_eq!(again.get("other"), Some(state(7)));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn corrupt_or_foreign_files_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{not json").expect("write");
        let e = FileCheckpoint::open(&path)
            .expect_err("corrupt")
            .to_string();
        assert!(e.contains("not valid") && e.contains("delete it"), "{e}");
        std::fs::write(&path, r#"{"version": 99, "pollers": {}}"#).expect("write");
        let e = FileCheckpoint::open(&path)
            .expect_err("version")
            .to_string();
        assert!(e.contains("version 99"), "{e}");
    }

    #[test]
    fn a_save_killed_between_write_and_rename_leaves_the_old_state_in_force() {
        // What a SIGKILL between `write_all`/`sync_all` and `rename` leaves:
        // the complete old file and a temporary sibling, full or cut short.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        let s = FileCheckpoint::open(&path).expect("open");
        s.put("src", state(100)).expect("save");
        drop(s);
        let full = dir.path().join(".state.json.tmp.4242");
        let cut = dir.path().join(".state.json.tmp.17");
        std::fs::write(
            &full,
            br#"{"version":1,"pollers":{"src":{"watermark_ms":999}}}"#,
        )
        .expect("write");
        std::fs::write(&cut, br#"{"version":1,"pollers":{"sr"#).expect("write");
        // Not ours: other files, and names that only look similar, stay.
        let other = [
            ".state.json.tmp.",
            ".state.json.tmp.12x",
            "state.json.tmp.5",
            ".other.json.tmp.5",
        ];
        for o in other {
            std::fs::write(dir.path().join(o), "x").expect("write");
        }
        let again = FileCheckpoint::open(&path).expect("reopen");
        assert_eq!(
            again.get("src"),
            Some(state(100)),
            "the old state is in force"
        );
        assert!(!full.exists() && !cut.exists(), "leftovers removed");
        for o in other {
            assert!(dir.path().join(o).exists(), "{o} left alone");
        }
        again.put("src", state(200)).expect("save");
        assert_eq!(
            FileCheckpoint::open(&path).expect("reopen").get("src"),
            Some(state(200))
        );
    }

    #[test]
    fn the_floor_round_trips_and_older_files_without_it_still_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        let s = FileCheckpoint::open(&path).expect("open");
        let start = Position {
            watermark_ms: 5,
            delivered: Vec::new(),
            floor_ms: Some(5),
        };
        s.put("src", start.clone()).expect("save");
        assert_eq!(
            FileCheckpoint::open(&path).expect("reopen").get("src"),
            Some(start)
        );
        // A file of the format before `floor_ms` (same version) loads as `None`.
        std::fs::write(
            &path,
            r#"{"version":1,"pollers":{"src":{"watermark_ms":7,"delivered":[]}}}"#,
        )
        .expect("write");
        let old = FileCheckpoint::open(&path)
            .expect("reopen")
            .get("src")
            .expect("entry");
        assert_eq!((old.watermark_ms, old.floor_ms), (7, None));
        assert_eq!(
            FileCheckpoint::open(&path).expect("reopen").keys(),
            vec!["src".to_string()]
        );
    }

    #[test]
    fn save_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = FileCheckpoint::open(dir.path().join("nope/state.json")).expect("open");
        let e = s.put("src", state(1)).expect_err("no dir").to_string();
        assert!(e.contains("cannot save the state file"), "{e}");
    }
}
