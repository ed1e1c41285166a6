//! The OIDC token Knative mounts for a source (`/oidc/token` by default).
//!
//! Knative rotates the file in place, so it is re-read at most once per
//! [`RECHECK`] (and at once after the sink answers 401). While the file is
//! absent no `Authorization` header is sent: OIDC is off in that cluster.
//! The token never appears in `Debug` output or logs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a read token is trusted before the file is looked at again.
pub const RECHECK: Duration = Duration::from_secs(1);

/// A bearer token whose `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The token text, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug)]
struct Cached {
    token: Option<Secret>,
    read_at: Option<Instant>,
}

/// A token file, read lazily and re-read when stale.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    cached: Mutex<Cached>,
}

impl TokenFile {
    /// Watches `path`; nothing is read until the first request.
    pub fn new(path: impl Into<PathBuf>) -> TokenFile {
        TokenFile {
            path: path.into(),
            cached: Mutex::new(Cached {
                token: None,
                read_at: None,
            }),
        }
    }

    /// The current token, re-reading the file if the cached copy is older than [`RECHECK`].
    pub fn current(&self) -> Option<Secret> {
        let mut c = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        let stale = c.read_at.is_none_or(|t| t.elapsed() >= RECHECK);
        if stale {
            c.token = read_token(&self.path);
            c.read_at = Some(Instant::now());
        }
        c.token.clone()
    }

    /// Re-reads the file now; true if the token differs from the one held before.
    pub fn reload(&self) -> bool {
        let mut c = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = read_token(&self.path);
        let changed = fresh != c.token;
        c.token = fresh;
        c.read_at = Some(Instant::now());
        changed
    }
}

fn read_token(path: &Path) -> Option<Secret> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let t = text.trim();
            if t.is_empty() {
                tracing::debug!(path = %path.display(), "OIDC token file is empty; sending without Authorization");
                None
            } else {
                Some(Secret(t.to_string()))
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "cannot read the OIDC token file; sending without Authorization");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_file_means_no_token_and_rotation_is_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        let tf = TokenFile::new(&path);
        assert_eq!(tf.current(), None);
        std::fs::write(&path, "first-token\n").expect("write");
        assert!(tf.reload());
        assert_eq!(
            tf.current().as_ref().map(Secret::expose),
            Some("first-token")
        );
        std::fs::write(&path, "second-token").expect("write");
        assert!(tf.reload());
        assert_eq!(
            tf.current().as_ref().map(Secret::expose),
            Some("second-token")
        );
        assert!(!tf.reload(), "unchanged file is not a change");
    }

    #[test]
    fn token_is_masked_in_debug() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "super-secret-jwt").expect("write");
        let tf = TokenFile::new(&path);
        let tok = tf.current().expect("token");
        assert_eq!(format!("{tok:?}"), "***");
        assert!(!format!("{tf:?}").contains("super-secret-jwt"));
    }
}
