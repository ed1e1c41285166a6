//! Finding and reading `clouds.yaml` and `secure.yaml` the OpenStack way.
//!
//! Search order (openstacksdk's `openstack/config/loader.py`, <https://github.com/openstack/openstacksdk/blob/master/openstack/config/loader.py>): the file named by `OS_CLIENT_CONFIG_FILE` (resp.
//! `OS_CLIENT_SECURE_FILE`), then `./`, `~/.config/openstack/`, `/etc/openstack/`, trying `.yaml`,
//! `.yml`, `.json` in each directory; the first existing file wins. secure.yaml is merged over
//! clouds.yaml with *secure.yaml winning* (the openstacksdk rule; see <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/authentication.md>).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::options::LoadOptions;
use super::raw::{parse_file, RawCloud};
use crate::Error;

const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// The clouds defined by files, after the secure.yaml merge.
#[derive(Debug, Default)]
pub(crate) struct FileClouds {
    pub clouds: BTreeMap<String, RawCloud>,
    pub clouds_path: Option<PathBuf>,
    pub secure_path: Option<PathBuf>,
    /// Every clouds.* path tried (for "not found" errors).
    pub searched: Vec<PathBuf>,
}

impl FileClouds {
    /// Human-readable origin of the file clouds, e.g. `/home/u/.config/openstack/clouds.yaml`.
    pub fn origin(&self) -> String {
        match (&self.clouds_path, &self.secure_path) {
            (Some(c), Some(s)) => format!("{} (with {})", c.display(), s.display()),
            (Some(c), None) => c.display().to_string(),
            (None, Some(s)) => s.display().to_string(),
            (None, None) => "no clouds.yaml".to_owned(),
        }
    }
}

/// Locates a file by base name (`clouds`, `secure`). Returns the file found (if any) and every path tried.
fn locate(
    opts: &LoadOptions,
    base: &str,
    var: &'static str,
) -> Result<(Option<PathBuf>, Vec<PathBuf>), Error> {
    if let Some(explicit) = opts.var(var) {
        let path = opts.cwd.join(explicit);
        if path.is_file() {
            return Ok((Some(path.clone()), vec![path]));
        }
        return Err(Error::ConfigFileMissing { var, path });
    }
    let mut dirs = vec![opts.cwd.clone()];
    if let Some(home) = &opts.home {
        dirs.push(home.join(".config").join("openstack"));
    }
    dirs.push(opts.system_dir.clone());
    let mut searched = Vec::new();
    for dir in dirs {
        for ext in EXTENSIONS {
            let path = dir.join(format!("{base}.{ext}"));
            searched.push(path.clone());
            if path.is_file() {
                return Ok((Some(path), searched));
            }
        }
    }
    Ok((None, searched))
}

fn read(path: &Path) -> Result<BTreeMap<String, RawCloud>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(parse_file(path, &text)?.clouds.unwrap_or_default())
}

/// Finds, reads and merges clouds.yaml and secure.yaml.
pub(crate) fn load(opts: &LoadOptions) -> Result<FileClouds, Error> {
    let (clouds_path, searched) = locate(opts, "clouds", "OS_CLIENT_CONFIG_FILE")?;
    let (secure_path, _) = locate(opts, "secure", "OS_CLIENT_SECURE_FILE")?;
    let mut clouds = match &clouds_path {
        Some(p) => read(p)?,
        None => BTreeMap::new(),
    };
    tracing::debug!(
        clouds_file = ?clouds_path,
        secure_file = ?secure_path,
        clouds = ?clouds.keys().collect::<Vec<_>>(),
        "clouds configuration located"
    );
    if let Some(p) = &secure_path {
        for (name, mut secure) in read(p)? {
            if let Some(base) = clouds.get(&name) {
                secure.fill_from(base);
            }
            clouds.insert(name, secure);
        }
    }
    Ok(FileClouds {
        clouds,
        clouds_path,
        secure_path,
        searched,
    })
}
