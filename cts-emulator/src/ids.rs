//! Stable identities of the emulated tenant: domain, projects and regions.
//! Ids are derived from the seed and the names by hashing, so the same
//! configuration always yields the same ids, whatever the start time.

use sha2::{Digest, Sha256};

use crate::Error;

/// The emulated domain (OTC account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInfo {
    /// 32 lowercase hex digits.
    pub id: String,
    /// Account name, e.g. `OTC00000000001000000001`.
    pub name: String,
}

/// One emulated project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectInfo {
    /// 32 lowercase hex digits, as in the CTS paths.
    pub id: String,
    /// Project name, e.g. `eu-de_app1`.
    pub name: String,
    /// Region, the part of the name before `_` (e.g. `eu-de`).
    pub region: String,
}

/// 32 hex digits derived from the seed and a list of labels.
pub(crate) fn hex_id(seed: u64, labels: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(seed.to_be_bytes());
    for l in labels {
        h.update((l.len() as u64).to_be_bytes());
        h.update(l.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// A 64-bit value derived from the seed and labels (used to seed sub-RNGs).
pub(crate) fn sub_seed(seed: u64, labels: &[&str]) -> u64 {
    let id = hex_id(seed, labels);
    u64::from_str_radix(&id[..16], 16).unwrap_or(seed)
}

/// The domain for a seed and account name.
pub fn domain_info(seed: u64, domain_name: &str) -> DomainInfo {
    DomainInfo {
        id: hex_id(seed, &["domain", domain_name]),
        name: domain_name.to_owned(),
    }
}

/// The project for a seed, domain and project name.
pub fn project_info(seed: u64, domain_name: &str, project_name: &str) -> ProjectInfo {
    ProjectInfo {
        id: hex_id(seed, &["project", domain_name, project_name]),
        name: project_name.to_owned(),
        region: region_of(project_name).to_owned(),
    }
}

/// The region a project name belongs to: the prefix before the first `_`.
pub fn region_of(project_name: &str) -> &str {
    project_name.split('_').next().unwrap_or(project_name)
}

/// Checks that a project name looks like `<region>` or `<region>_<sub>`.
pub(crate) fn validate_project_name(name: &str) -> Result<(), Error> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let region = region_of(name);
    if name.is_empty()
        || name.len() > 64
        || !ok_chars
        || !region.contains('-')
        || name.ends_with('_')
    {
        return Err(Error::config(
            "projects",
            format!("`{name}` is not a project name of the form <region> or <region>_<subproject>"),
            "use names like `eu-de` or `eu-de_app1` (letters, digits, `-`, `_`)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = project_info(1, "OTC1", "eu-de_a");
        assert_eq!(a, project_info(1, "OTC1", "eu-de_a"));
        assert_ne!(a.id, project_info(2, "OTC1", "eu-de_a").id);
        assert_ne!(a.id, project_info(1, "OTC1", "eu-de_b").id);
        assert_eq!(a.id.len(), 32);
        assert!(a
            .id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(a.region, "eu-de");
        assert_eq!(region_of("eu-nl"), "eu-nl");
    }

    #[test]
    fn project_names_are_checked() {
        for good in ["eu-de", "eu-de_app1", "eu-ch2_x-y"] {
            validate_project_name(good).expect(good);
        }
        for bad in ["", "demo", "eu-de_", "eu de", "eu-de/x"] {
            assert!(
                validate_project_name(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
