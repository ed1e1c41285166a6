//! The crate's one error type: everything the library can refuse or fail at,
//! each variant naming the problem and how to fix it.

use std::path::PathBuf;

/// Errors returned by the emulator library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid emulator configuration: `{setting}`: {problem} (fix: {fix})")]
    Config {
        /// Name of the offending setting (field name of `EmulatorConfig`).
        setting: &'static str,
        /// What is wrong with the value given.
        problem: String,
        /// What to do instead.
        fix: String,
    },
    /// The listening socket could not be bound.
    #[error(
        "cannot listen on {addr}: {source} (fix: choose another port, or 0 for any free port)"
    )]
    Bind {
        /// Address that was requested.
        addr: std::net::SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Start-up failed for a reason other than configuration or binding.
    #[error("emulator start-up failed: {0}")]
    Startup(String),
    /// A project name or id is not one of the emulator's projects.
    #[error("unknown project `{0}` (fix: use one of the ids or names from Emulator::projects())")]
    UnknownProject(String),
    /// Writing archive files failed.
    #[error("cannot write archive file {path}: {source}")]
    Archive {
        /// The file or directory being written.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn config(
        setting: &'static str,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Error::Config {
            setting,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}
