//! OBS-layout archive files and the generated clouds.yaml.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cts_emulator::{ArchiveLayout, ArchiveOptions, AuthKind, EmulatorConfig};
use serde_json::Value;

use crate::common::*;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn read_traces(path: &Path, layout: ArchiveLayout) -> Vec<Value> {
    let raw = std::fs::read(path).expect("read");
    let text = if path.to_string_lossy().ends_with(".json.gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .expect("gunzip");
        s
    } else {
        String::from_utf8(raw).expect("utf8")
    };
    match layout {
        ArchiveLayout::JsonArray => serde_json::from_str::<Vec<Value>>(&text).expect("array"),
        ArchiveLayout::Ndjson => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("line"))
            .collect(),
        _ => serde_json::from_str::<Value>(&text).expect("object")["traces"]
            .as_array()
            .expect("traces")
            .clone(),
    }
}

#[tokio::test]
async fn archives_follow_the_obs_layout_and_hold_every_trace_once() {
    let cfg = EmulatorConfig {
        projects: vec!["eu-de".into(), "eu-nl_app".into()],
        history_count: 400,
        history_span: Duration::from_secs(7200),
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = emu
        .write_archives(dir.path(), &ArchiveOptions::default())
        .expect("written");
    assert_eq!(summary.trace_count, 800);
    let files = files_under(dir.path());
    assert_eq!(files.len(), summary.files.len());
    let mut ids = HashSet::new();
    for f in &files {
        let rel = f
            .strip_prefix(dir.path())
            .expect("inside")
            .to_string_lossy()
            .into_owned();
        let parts: Vec<&str> = rel.split('/').collect();
        // CloudTraces/<region>/<Y>/<M>/<D>/system/<Service>/<file>
        assert_eq!(parts.len(), 8, "{rel}");
        assert_eq!(parts[0], "CloudTraces");
        assert!(parts[1] == "eu-de" || parts[1] == "eu-nl", "{rel}");
        assert!(
            parts[2].len() == 4
                && parts[3].parse::<u32>().is_ok()
                && !parts[3].starts_with('0')
                && !parts[4].starts_with('0'),
            "{rel}"
        );
        assert_eq!(parts[5], "system");
        let name = parts[7];
        assert!(
            name.starts_with("cts_CloudTrace_") && name.ends_with(".json.gz"),
            "{name}"
        );
        let region_project = if parts[1] == "eu-de" {
            "eu-de"
        } else {
            "eu-nl-app"
        };
        assert!(
            name.contains(&format!("_CloudTrace_{region_project}_")),
            "{name}"
        );
        let stamp = name.split('_').nth(3).expect("stamp");
        chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H-%M-%SZ").expect("upload time");
        for t in read_traces(f, ArchiveLayout::JsonArray) {
            assert_eq!(t["service_type"], parts[6]);
            assert!(
                ids.insert(t["trace_id"].as_str().expect("id").to_owned()),
                "each trace once"
            );
        }
    }
    let truth: HashSet<String> = emu
        .projects()
        .iter()
        .flat_map(|p| emu.visible_trace_ids(&p.id))
        .collect();
    assert_eq!(ids, truth);
}

#[tokio::test]
async fn plain_json_ndjson_and_unsorted_variants() {
    let emu = start(EmulatorConfig {
        history_count: 100,
        history_span: Duration::from_secs(3600),
        ..EmulatorConfig::default()
    })
    .await;
    for layout in [ArchiveLayout::Ndjson, ArchiveLayout::TracesObject] {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = ArchiveOptions {
            gzip: false,
            layout,
            sort_by_service: false,
            file_prefix: String::new(),
            ..ArchiveOptions::default()
        };
        emu.write_archives(dir.path(), &opts).expect("written");
        let mut n = 0;
        for f in files_under(dir.path()) {
            let rel = f
                .strip_prefix(dir.path())
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            assert_eq!(rel.split('/').count(), 7, "no service level: {rel}");
            assert!(f
                .file_name()
                .expect("name")
                .to_string_lossy()
                .starts_with("CloudTrace_"));
            assert!(rel.ends_with(".json"));
            n += read_traces(&f, layout).len();
        }
        assert_eq!(n, 100);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = ArchiveOptions {
        file_prefix: "a/b".into(),
        ..ArchiveOptions::default()
    };
    let err = emu
        .write_archives(dir.path(), &bad)
        .expect_err("prefix with slash");
    assert!(err.to_string().contains("file_prefix"));
}

#[tokio::test]
async fn clouds_yaml_has_one_cloud_per_project() {
    let cfg = EmulatorConfig {
        projects: vec!["eu-de_a".into(), "eu-nl_b".into()],
        history_count: 0,
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let c = emu.credentials().clone();
    let y: serde_json::Value =
        serde_norway::from_str(&emu.clouds_yaml(AuthKind::Password)).expect("yaml");
    let clouds = y["clouds"].as_object().expect("clouds");
    assert_eq!(clouds.len(), 2);
    let b = &clouds["eu-nl_b"];
    assert_eq!(b["auth"]["auth_url"], emu.iam_url().as_str());
    assert_eq!(b["auth"]["username"], c.username.as_str());
    assert_eq!(b["auth"]["password"], c.password.expose());
    assert_eq!(b["auth"]["user_domain_name"], emu.domain().name.as_str());
    assert_eq!(b["auth"]["project_name"], "eu-nl_b");
    assert_eq!(b["region_name"], "eu-nl");
    assert_eq!(b["identity_api_version"], 3);
    let y: serde_json::Value =
        serde_norway::from_str(&emu.clouds_yaml(AuthKind::AkSk)).expect("yaml");
    let a = &y["clouds"]["eu-de_a"]["auth"];
    assert_eq!(
        (a["ak"].as_str(), a["sk"].as_str()),
        (Some(c.ak.as_str()), Some(c.sk.expose()))
    );
    assert!(a.get("password").is_none());
}
