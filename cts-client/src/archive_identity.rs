//! Whose traces an archive holds: region, tracker and project from the OBS
//! paths, the file names and the traces, checked against what the caller
//! was told (docs/events.md, "Archive backfills without IAM").

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::{first_ids, is_hex_id, layout};

/// An OTC region name: lower-case letters, digits and `-`, at most 32
/// characters, not starting or ending with `-` (`eu-de`, `eu-nl`, `eu-ch2`).
pub fn is_region(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// What the caller knows about an archive before [`identify`] reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// The region, when the caller was told it; it must agree with the paths.
    pub region: Option<String>,
    /// The project id, when the caller was told it; it must agree with the file names.
    pub project_id: Option<String>,
    /// The tracker when no path names one (cts-exporter: `CTS_TRACKER`).
    pub default_tracker: String,
}

/// Whose an archive's traces are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The region (from the hint or the `CloudTraces/<region>/` folders).
    pub region: String,
    /// The tracker (from the `<tracker>` folders, else the hint's default).
    pub tracker: String,
    /// The project.
    pub project: Project,
    /// The first non-blank `user.domain.id` of the traces, if any.
    pub domain: Option<String>,
}

/// An archive's project, as far as it can be told without IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Project {
    /// Its id (lower case when read from the archive), from the hint, the
    /// file names or a trace's `resource_url`.
    Id(String),
    /// No id anywhere: only the `<project>` of `<region>-<project>` file
    /// names, or nothing at all (`None`).
    Named(Option<String>),
}

impl Identity {
    /// The OTC project name the archive names, `<region>_<project>`, or a
    /// description when it names none; only meaningful for [`Project::Named`].
    pub fn project_name(&self) -> String {
        match &self.project {
            Project::Named(Some(p)) => format!("{}_{p}", self.region),
            Project::Named(None) => format!("(not named; region {})", self.region),
            Project::Id(id) => id.clone(),
        }
    }

    /// Why `cloud` (a clouds.yaml entry) cannot be the one IAM is asked for
    /// this archive's project id: it is in another region, or the file names
    /// name a project and the cloud is configured for another one. `None`
    /// when it fits.
    pub fn cloud_mismatch(&self, cloud: &otc_auth::CloudConfig) -> Option<String> {
        if cloud.region != self.region {
            return Some(format!(
                "the cloud {:?} in clouds.yaml is in region {:?}, not {:?}",
                cloud.name, cloud.region, self.region
            ));
        }
        match (&self.project, &cloud.project_name) {
            (Project::Named(Some(_)), Some(configured)) if *configured != self.project_name() => {
                Some(format!(
                    "the cloud {:?} in clouds.yaml is for project {configured:?}",
                    cloud.name
                ))
            }
            _ => None,
        }
    }
}

/// Which setting an archive holds more than one value of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mixed {
    /// `CloudTraces/<region>/` folders.
    Regions,
    /// `<tracker>` folders.
    Trackers,
    /// `<project>` parts of `<region>-<project>` file names.
    Projects,
}

impl fmt::Display for Mixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mixed::Regions => "regions",
            Mixed::Trackers => "trackers",
            Mixed::Projects => "projects (file names <region>-<project>)",
        })
    }
}

/// Why an archive's identity cannot be told; a caller maps each to the
/// setting its user should change. The files named are the first (in the
/// given order) that show the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentifyError {
    /// The archive holds two values of one setting; back each up separately.
    Mixed {
        /// Which setting.
        what: Mixed,
        /// The first value and a file saying it.
        first: (String, PathBuf),
        /// Another value and a file saying it.
        second: (String, PathBuf),
    },
    /// The region hint disagrees with the `CloudTraces/<region>/` folders.
    RegionDisagrees {
        /// The hint.
        given: String,
        /// The folders' region.
        path: String,
    },
    /// The folder after `CloudTraces` is not a region name ([`is_region`]).
    NotARegion {
        /// The folder's name.
        folder: String,
    },
    /// No hint and no `CloudTraces/<region>/` folder: the region is unknown.
    NoRegion,
    /// A file name's `<region>[-<project>]` names another region.
    FileNameRegion {
        /// The file.
        file: PathBuf,
        /// What its name says.
        says: String,
        /// The archive's region.
        region: String,
    },
    /// The project id hint disagrees with the id in the file names.
    ProjectDisagrees {
        /// The hint.
        given: String,
        /// The id in the file names.
        in_names: String,
    },
}

impl std::error::Error for IdentifyError {}

impl fmt::Display for IdentifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentifyError::Mixed {
                what,
                first: (a, pa),
                second: (b, pb),
            } => write!(
                f,
                "the archive mixes {what} {a:?} ({}) and {b:?} ({})",
                pa.display(),
                pb.display()
            ),
            IdentifyError::RegionDisagrees { given, path } => write!(
                f,
                "region {given:?} disagrees with the archive's CloudTraces/{path}/ folders"
            ),
            IdentifyError::NotARegion { folder } => write!(
                f,
                "the folder after CloudTraces, {folder:?}, is not a region name"
            ),
            IdentifyError::NoRegion => f.write_str(
                "the archive's paths have no CloudTraces/<region>/ folder to tell the region",
            ),
            IdentifyError::FileNameRegion { file, says, region } => write!(
                f,
                "the file name {} says {says:?} but the region is {region:?}",
                file.display()
            ),
            IdentifyError::ProjectDisagrees { given, in_names } => write!(
                f,
                "project id {given:?} disagrees with the project id {in_names:?} in the archive's file names"
            ),
        }
    }
}

/// The one value of a setting across the archive's files.
fn one_value(
    what: Mixed,
    values: &BTreeMap<String, PathBuf>,
) -> Result<Option<String>, IdentifyError> {
    let mut it = values.iter();
    let first = it.next();
    if let (Some((a, pa)), Some((b, pb))) = (first, it.next()) {
        return Err(IdentifyError::Mixed {
            what,
            first: (a.clone(), pa.clone()),
            second: (b.clone(), pb.clone()),
        });
    }
    Ok(first.map(|(v, _)| v.clone()))
}

/// Tells whose traces the archive `files` hold (see [`super::layout`] for
/// the OBS layout): the region from the hint or the folders, the tracker
/// from the folders, and the project id from the hint, the
/// `<region>-<project id>` file names or the traces' `resource_url`
/// ([`super::url_project_id`]), reading the files only as far as needed
/// (blocking: call it off an async runtime's workers). A bare `<region>` in
/// a file name says nothing about the project (Huawei's newer examples use
/// it for every file); `<region>-<project>` does.
///
/// # Errors
///
/// An [`IdentifyError`] when the archive mixes regions, trackers or
/// projects, or disagrees with a hint, or the region cannot be told.
pub fn identify(files: &[PathBuf], hints: &Hints) -> Result<Identity, IdentifyError> {
    let l = layout(files);
    let path_region = one_value(Mixed::Regions, &l.regions)?;
    let tracker =
        one_value(Mixed::Trackers, &l.trackers)?.unwrap_or_else(|| hints.default_tracker.clone());
    let region = match (&hints.region, path_region) {
        (Some(given), Some(path)) if *given != path => {
            return Err(IdentifyError::RegionDisagrees {
                given: given.clone(),
                path,
            })
        }
        (Some(given), _) => given.clone(),
        (None, Some(path)) if is_region(&path) => path,
        (None, Some(folder)) => return Err(IdentifyError::NotARegion { folder }),
        (None, None) => return Err(IdentifyError::NoRegion),
    };
    let mut parts = BTreeMap::new();
    for (n, f) in l.region_projects {
        if n == region {
            continue;
        }
        match n.strip_prefix(&format!("{region}-")) {
            Some(p) if !p.is_empty() => {
                parts.entry(p.to_string()).or_insert(f);
            }
            _ => {
                return Err(IdentifyError::FileNameRegion {
                    file: f,
                    says: n,
                    region,
                })
            }
        }
    }
    let project_part = one_value(Mixed::Projects, &parts)?;
    let name_id = project_part
        .as_deref()
        .filter(|p| is_hex_id(p))
        .map(str::to_ascii_lowercase);
    let want_project = hints.project_id.is_none() && name_id.is_none();
    let (traces_project, domain) = first_ids(files, want_project);
    let project = if let Some(given) = &hints.project_id {
        if let Some(id) = name_id.filter(|id| !id.eq_ignore_ascii_case(given)) {
            return Err(IdentifyError::ProjectDisagrees {
                given: given.clone(),
                in_names: id,
            });
        }
        Project::Id(given.clone())
    } else if let Some(id) = name_id.or(traces_project) {
        Project::Id(id)
    } else {
        Project::Named(project_part)
    };
    Ok(Identity {
        region,
        tracker,
        project,
        domain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "0123456789abcdef0123456789abcdef";

    /// Writes `body` to each path under a fresh directory; returns it and the files.
    fn archive(files: &[(&str, &str)]) -> (tempfile::TempDir, Vec<PathBuf>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut out = Vec::new();
        for (rel, body) in files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, body).expect("write");
            out.push(path);
        }
        out.sort();
        (dir, out)
    }

    fn hints(region: Option<&str>, project_id: Option<&str>) -> Hints {
        Hints {
            region: region.map(str::to_string),
            project_id: project_id.map(str::to_string),
            default_tracker: "system".into(),
        }
    }

    const TRACE: &str = r#"[{"trace_id":"a","user":{"domain":{"id":" dom-1 "}}}]"#;

    #[test]
    fn the_obs_layout_tells_region_tracker_and_project_id() {
        let name = format!("CloudTraces/eu-nl/2024/05/01/audit/ECS/x_CloudTrace_eu-nl-{}_2024-05-01T10-00-00Z_ab12.json", P.to_uppercase());
        let (_d, files) = archive(&[(name.as_str(), TRACE)]);
        let id = identify(&files, &hints(None, None)).expect("identified");
        assert_eq!(id.region, "eu-nl");
        assert_eq!(id.tracker, "audit");
        assert_eq!(id.project, Project::Id(P.into()), "lower-cased");
        assert_eq!(id.domain.as_deref(), Some("dom-1"));
        // The hint may say the same, in any case.
        let id = identify(&files, &hints(Some("eu-nl"), Some(&P.to_uppercase()))).expect("agrees");
        assert_eq!(id.project, Project::Id(P.to_uppercase()));
    }

    #[test]
    fn without_paths_the_hints_and_the_traces_tell() {
        let body = format!(
            r#"{{"trace_id":"a","resource_url":"/v2/{}/cloudvolumes/1"}}"#,
            P.to_uppercase()
        );
        let (_d, files) = archive(&[("flat/traces.json", body.as_str())]);
        assert_eq!(
            identify(&files, &hints(None, None)),
            Err(IdentifyError::NoRegion)
        );
        let id = identify(&files, &hints(Some("eu-de"), None)).expect("identified");
        assert_eq!(
            (id.region.as_str(), id.tracker.as_str()),
            ("eu-de", "system")
        );
        assert_eq!(id.project, Project::Id(P.into()));
        assert_eq!(id.domain, None);
    }

    #[test]
    fn only_a_project_name_is_named_not_an_id() {
        let (_d, files) = archive(&[(
            "CloudTraces/eu-de/2024/05/01/system/x_CloudTrace_eu-de-münchen_2024-05-01T10-00-00Z_ab.json",
            TRACE,
        )]);
        let id = identify(&files, &hints(None, None)).expect("identified");
        assert_eq!(id.project, Project::Named(Some("münchen".into())));
        assert_eq!(id.project_name(), "eu-de_münchen");
        // A bare region in the file name names no project.
        let (_d, files) = archive(&[(
            "CloudTraces/eu-de/2024/05/01/system/x_CloudTrace_eu-de_2024-05-01T10-00-00Z_ab.json",
            "[]",
        )]);
        let id = identify(&files, &hints(None, None)).expect("identified");
        assert_eq!(id.project, Project::Named(None));
        assert_eq!(id.project_name(), "(not named; region eu-de)");
    }

    #[test]
    fn mixed_archives_and_disagreeing_hints_are_refused() {
        let f = |region: &str, tracker: &str, token: &str| {
            format!("CloudTraces/{region}/2024/05/01/{tracker}/x_CloudTrace_{token}_2024-05-01T10-00-00Z_ab.json")
        };
        let cases: Vec<(Vec<String>, Hints, &str)> = vec![
            (vec![f("eu-de", "system", "eu-de"), f("eu-nl", "system", "eu-nl")], hints(None, None), "mixes regions \"eu-de\""),
            (vec![f("eu-de", "a", "eu-de"), f("eu-de", "b", "eu-de")], hints(None, None), "mixes trackers \"a\""),
            (vec![f("eu-de", "system", "eu-de-x"), f("eu-de", "system", "eu-de-y")], hints(None, None), "mixes projects (file names <region>-<project>) \"x\""),
            (vec![f("eu-de", "system", "eu-de")], hints(Some("eu-nl"), None), "region \"eu-nl\" disagrees with the archive's CloudTraces/eu-de/ folders"),
            (vec![f("EU_DE", "system", "x")], hints(None, None), "the folder after CloudTraces, \"EU_DE\", is not a region name"),
            (vec![f("eu-de", "system", "eu-nl-x")], hints(None, None), "says \"eu-nl-x\" but the region is \"eu-de\""),
            (vec![f("eu-de", "system", &format!("eu-de-{P}"))], hints(None, Some("ffffffffffffffffffffffffffffffff")), "disagrees with the project id \"0123456789abcdef0123456789abcdef\" in the archive's file names"),
        ];
        for (names, h, says) in cases {
            let files: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "[]")).collect();
            let (_d, files) = archive(&files);
            let e = identify(&files, &h).expect_err("refused");
            assert!(e.to_string().contains(says), "{names:?}: {e}");
        }
    }

    #[test]
    fn a_cloud_fits_when_region_and_named_project_agree() {
        let dir = tempfile::tempdir().expect("tempdir");
        let yaml = "clouds:\n  c:\n    region_name: eu-de\n    auth:\n      auth_url: https://iam.eu-de.otc.t-systems.com/v3\n      username: u\n      password: p\n      user_domain_name: OTC0001\n      project_name: eu-de_münchen\n";
        std::fs::write(dir.path().join("clouds.yaml"), yaml).expect("write");
        let options = otc_auth::LoadOptions::new(dir.path(), dir.path().join("none"));
        let cloud = otc_auth::load_cloud(&options, Some("c")).expect("cloud");
        let id = |region: &str, project: Project| Identity {
            region: region.into(),
            tracker: "system".into(),
            project,
            domain: None,
        };
        assert_eq!(
            id("eu-de", Project::Named(Some("münchen".into()))).cloud_mismatch(&cloud),
            None
        );
        assert_eq!(
            id("eu-de", Project::Named(None)).cloud_mismatch(&cloud),
            None
        );
        assert_eq!(
            id("eu-de", Project::Named(Some("berlin".into())))
                .cloud_mismatch(&cloud)
                .as_deref(),
            Some("the cloud \"c\" in clouds.yaml is for project \"eu-de_münchen\"")
        );
        assert_eq!(
            id("eu-nl", Project::Named(None))
                .cloud_mismatch(&cloud)
                .as_deref(),
            Some("the cloud \"c\" in clouds.yaml is in region \"eu-de\", not \"eu-nl\"")
        );
    }

    #[test]
    fn region_names() {
        for ok in ["eu-de", "eu-ch2", "ap-southeast-1"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "EU-DE",
            "eu-de/..",
            "ëu-de",
            "-eu",
            "eu-",
            "eu_de",
            &"a".repeat(33),
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }
}
