//! The state file: each poller's watermark and the ids it delivered within
//! the lateness horizon, so a restart neither leaves a gap nor repeats.
//!
//! One JSON file holds every poller, keyed by its event `source` (which names
//! endpoint, project and tracker). It is replaced atomically: write a
//! temporary file in the same directory, fsync it, rename it over the old
//! one, fsync the directory. A crash leaves either the old or the new file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The format version written; older files are refused with a clear message.
pub const STATE_VERSION: u32 = 1;

/// One poller's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollerState {
    /// Every trace with a time before this (epoch ms) that CTS showed has been
    /// acknowledged by the sink (or refused for good).
    pub watermark_ms: i64,
    /// Ids delivered within the lateness horizon, with their trace times.
    #[serde(default)]
    pub delivered: Vec<DeliveredId>,
}

/// A delivered trace id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredId {
    /// Trace id.
    pub id: String,
    /// Trace time, epoch ms.
    pub time_ms: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    #[serde(default)]
    pollers: BTreeMap<String, PollerState>,
}

/// Why the state file cannot be used.
#[derive(Debug)]
pub enum StateError {
    /// It exists but cannot be read.
    Read(PathBuf, std::io::Error),
    /// It is not a state file of this version.
    Invalid(PathBuf, String),
    /// Saving failed.
    Write(PathBuf, std::io::Error),
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateError::Read(p, e) => write!(f, "cannot read the state file {}: {e}", p.display()),
            StateError::Invalid(p, e) => write!(
                f,
                "the state file {} is not valid ({e}); repair it or delete it (the exporter then starts CTS_FROM minutes back)",
                p.display()
            ),
            StateError::Write(p, e) => write!(f, "cannot save the state file {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for StateError {}

/// The state file, shared by every poller of the process.
#[derive(Debug)]
pub struct StateStore {
    path: PathBuf,
    file: Mutex<StateFile>,
}

impl StateStore {
    /// Loads `path`; a missing file is an empty state.
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let file = match std::fs::read(path) {
            Ok(bytes) => {
                let f: StateFile = serde_json::from_slice(&bytes)
                    .map_err(|e| StateError::Invalid(path.to_path_buf(), e.to_string()))?;
                if f.version != STATE_VERSION {
                    return Err(StateError::Invalid(
                        path.to_path_buf(),
                        format!(
                            "version {} but this exporter writes version {STATE_VERSION}",
                            f.version
                        ),
                    ));
                }
                f
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFile {
                version: STATE_VERSION,
                pollers: BTreeMap::new(),
            },
            Err(e) => return Err(StateError::Read(path.to_path_buf(), e)),
        };
        Ok(StateStore {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// The saved state of the poller with this `source`.
    pub fn get(&self, source: &str) -> Option<PollerState> {
        self.lock().pollers.get(source).cloned()
    }

    /// Records `state` for `source` and writes the whole file atomically.
    pub fn save(&self, source: &str, state: PollerState) -> Result<(), StateError> {
        let mut f = self.lock();
        f.pollers.insert(source.to_string(), state);
        let bytes = serde_json::to_vec(&*f)
            .map_err(|e| StateError::Write(self.path.clone(), std::io::Error::other(e)))?;
        write_atomic(&self.path, &bytes).map_err(|e| StateError::Write(self.path.clone(), e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateFile> {
        self.file.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Write a temporary sibling, fsync, rename over `path`, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
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

    fn state(wm: i64) -> PollerState {
        PollerState {
            watermark_ms: wm,
            delivered: vec![DeliveredId {
                id: "a".into(),
                time_ms: wm - 1,
            }],
        }
    }

    #[test]
    fn missing_file_is_empty_and_saves_roundtrip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        let s = StateStore::open(&path).expect("open");
        assert_eq!(s.get("src"), None);
        s.save("src", state(100)).expect("save");
        s.save("other", state(7)).expect("save");
        s.save("src", state(200)).expect("save");
        let again = StateStore::open(&path).expect("reopen");
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
        let e = StateStore::open(&path).expect_err("corrupt").to_string();
        assert!(e.contains("not valid") && e.contains("delete it"), "{e}");
        std::fs::write(&path, r#"{"version": 99, "pollers": {}}"#).expect("write");
        let e = StateStore::open(&path).expect_err("version").to_string();
        assert!(e.contains("version 99"), "{e}");
    }

    #[test]
    fn save_into_a_missing_directory_fails_cleanly() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = StateStore::open(&dir.path().join("nope/state.json")).expect("open");
        let e = s.save("src", state(1)).expect_err("no dir").to_string();
        assert!(e.contains("cannot save the state file"), "{e}");
    }
}
