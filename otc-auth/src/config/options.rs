//! Where the loader looks: environment, working directory, home and system directory.
//!
//! Reading the process environment is this crate's documented job, but only through
//! [`LoadOptions::from_process`]; everything else takes a [`LoadOptions`] value, so tests feed a map
//! and temporary directories instead of mutating the real environment.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// Inputs of [`load_cloud`](crate::load_cloud): the environment and the directories searched.
#[derive(Clone)]
pub struct LoadOptions {
    /// Environment variables (`OS_CLOUD`, `OS_*` credentials, `OS_CLIENT_CONFIG_FILE`, ...).
    pub env: HashMap<String, String>,
    /// Directory searched first (`./clouds.yaml`); relative `OS_CLIENT_CONFIG_FILE` paths resolve against it.
    pub cwd: PathBuf,
    /// Home directory; `<home>/.config/openstack` is searched second. `None` skips it.
    pub home: Option<PathBuf>,
    /// System directory searched last, normally `/etc/openstack`.
    pub system_dir: PathBuf,
}

impl LoadOptions {
    /// Options for an isolated lookup: empty environment, no home directory, and the given working and
    /// system directories. Handy in tests; fill `env` and `home` afterwards.
    pub fn new(cwd: impl Into<PathBuf>, system_dir: impl Into<PathBuf>) -> Self {
        Self {
            env: HashMap::new(),
            cwd: cwd.into(),
            home: None,
            system_dir: system_dir.into(),
        }
    }

    /// The real process: its environment (variables that are not valid UTF-8 are skipped), its current
    /// directory (`.` if unknown), `$HOME` and `/etc/openstack`.
    pub fn from_process() -> Self {
        let env: HashMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let home = env
            .get("HOME")
            .or_else(|| env.get("USERPROFILE"))
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Self {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            home,
            system_dir: PathBuf::from("/etc/openstack"),
            env,
        }
    }

    /// The value of an environment variable, ignoring empty values.
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.env
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Prints the variable *names* only: the environment holds passwords.
impl fmt::Debug for LoadOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.env.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("LoadOptions")
            .field("env_names", &names)
            .field("cwd", &self.cwd)
            .field("home", &self.home)
            .field("system_dir", &self.system_dir)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_names_not_values() {
        let mut o = LoadOptions::new("/tmp/x", "/tmp/y");
        o.env.insert("OS_PASSWORD".into(), "topsecret-pw".into());
        let dbg = format!("{o:?}");
        assert!(dbg.contains("OS_PASSWORD"), "{dbg}");
        assert!(!dbg.contains("topsecret-pw"), "{dbg}");
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let mut o = LoadOptions::new("/a", "/b");
        o.env.insert("OS_CLOUD".into(), String::new());
        o.env.insert("OS_REGION_NAME".into(), "eu-nl".into());
        assert_eq!(o.var("OS_CLOUD"), None);
        assert_eq!(o.var("OS_REGION_NAME"), Some("eu-nl"));
    }
}
