use super::*;
use std::io::Write;

fn ids(input: &str) -> (Vec<String>, Result<FileStats, String>) {
    let mut out = Vec::new();
    let r = read_stream(input.as_bytes(), &mut |t: Trace| {
        out.push(t.trace_id.unwrap_or_default());
        true
    })
    .map_err(|e| e.to_string());
    (out, r)
}

#[test]
fn every_layout_is_accepted() {
    let cases = [
        r#"[{"trace_id":"a","time":1},{"trace_id":"b","time":"2"}]"#,
        "{\"trace_id\":\"a\"}\n{\"trace_id\":\"b\"}\n",
        r#"{"traces":[{"trace_id":"a"},{"trace_id":"b"}],"meta_data":{"count":2}}"#,
        "  [ {\"trace_id\":\"a\"} ]\n\n[{\"trace_id\":\"b\"}]  ",
    ];
    for input in cases {
        let (got, r) = ids(input);
        assert_eq!(got, vec!["a", "b"], "{input}");
        assert_eq!(r, Ok(FileStats { traces: 2, bad: 0 }), "{input}");
    }
    let (got, _) = ids(r#"{"trace_id":"only","service_type":"ECS"}"#);
    assert_eq!(got, vec!["only"]);
    let (got, r) = ids("   \n");
    assert!(got.is_empty());
    assert_eq!(r, Ok(FileStats::default()));
    let (got, _) = ids(r#"{"traces":null}"#);
    assert!(got.is_empty());
}

#[test]
fn bad_elements_are_counted_and_skipped() {
    let (got, r) =
        ids(r#"[{"trace_id":"a"},{"trace_id":"b","time":"yesterday"},5,{"trace_id":"c"}]"#);
    assert_eq!(got, vec!["a", "c"]);
    assert_eq!(r, Ok(FileStats { traces: 2, bad: 2 }));
}

#[test]
fn broken_json_is_an_error_after_the_good_part() {
    let (got, r) = ids(r#"[{"trace_id":"a"},{"trace_id":"b""#);
    assert_eq!(got, vec!["a"]);
    assert!(r.expect_err("broken").contains("not a JSON trace file"));
    let (_, r) = ids(r#""just a string""#);
    assert!(r.is_err());
}

#[test]
fn the_consumer_can_stop() {
    let mut n = 0;
    let r = read_stream(
        r#"[{"trace_id":"a"},{"trace_id":"b"},{"trace_id":"c"}]"#.as_bytes(),
        &mut |_| {
            n += 1;
            n < 2
        },
    );
    assert!(matches!(r, Err(ReadError::Stopped)));
    assert_eq!(n, 2);
}

#[test]
fn gzip_files_and_digest_skipping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = dir.path().join("CloudTraces/eu-de/2024/5/3/system/ECS");
    let digest = dir
        .path()
        .join("CloudTraces/eu-de/2024/5/3/system/Digest/ECS");
    std::fs::create_dir_all(&day).expect("mkdir");
    std::fs::create_dir_all(&digest).expect("mkdir");
    let gz_path = day.join("p_CloudTrace_eu-de_2024-05-03T10-20-00Z_0011223344556677.json.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz_path).expect("create"),
        flate2::Compression::default(),
    );
    gz.write_all(br#"[{"trace_id":"z1"},{"trace_id":"z2"}]"#)
        .expect("write");
    gz.finish().expect("finish");
    std::fs::write(
        day.join("p_CloudTrace_eu-de_2024-05-03T10-25-00Z_aa.json"),
        r#"{"trace_id":"p1"}"#,
    )
    .expect("write");
    std::fs::write(
        digest.join("p_CloudTrace-Digest_eu-de_2024-05-03T10-30-00Z.json.gz"),
        "x",
    )
    .expect("write");
    std::fs::write(day.join("README.txt"), "x").expect("write");

    let (files, skipped) = list_files(dir.path()).expect("list");
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    let mut got = Vec::new();
    for f in &files {
        read_file(f, &mut |t| {
            got.push(t.trace_id.unwrap_or_default());
            true
        })
        .expect("read");
    }
    got.sort();
    assert_eq!(got, vec!["p1", "z1", "z2"]);
}

#[test]
fn the_obs_path_and_file_name_give_region_tracker_and_project() {
    let p = Path::new("/x/bucket/CloudTraces/eu-de/2024/5/3/system/ECS/cts_CloudTrace_eu-de-demo_2024-05-03T10-05-17Z_0faa86bc40071242.json.gz");
    let c = file_context(p);
    assert_eq!(c.region.as_deref(), Some("eu-de"));
    assert_eq!(c.tracker.as_deref(), Some("system"));
    assert_eq!(c.region_project.as_deref(), Some("eu-de-demo"));
    // Without the service folder, with an empty prefix, a prefix with spaces and underscores.
    let c = file_context(Path::new(
        "CloudTraces/eu-nl/2024/12/13/trk/CloudTrace_eu-nl_2024-12-13T01-29-19Z_47b9d51830deff47.json",
    ));
    assert_eq!(
        (
            c.region.as_deref(),
            c.tracker.as_deref(),
            c.region_project.as_deref()
        ),
        (Some("eu-nl"), Some("trk"), Some("eu-nl"))
    );
    let c = file_context(Path::new(
        "a/File Prefix_x_CloudTrace_eu-de-0123456789abcdef0123456789ABCDEF_2016-05-30T16-20-56Z_21d36ced8c8af71e.json.gz",
    ));
    assert_eq!(c.region, None);
    assert_eq!(c.tracker, None);
    assert_eq!(
        c.region_project.as_deref(),
        Some("eu-de-0123456789abcdef0123456789ABCDEF")
    );
    // Hostile names: no layout at all, non-ASCII, a digest file, an empty name part.
    for name in [
        "traces.json",
        "ünïcødé_CloudTrace_ü_2024Z_ff.json",
        "x_CloudTrace__2024-01-01T00-00-00Z_ff.json",
        "x_CloudTrace-Digest_eu-de_2017-11-15T10-12-10Z.json.gz",
        "",
    ] {
        let c = file_context(Path::new(name));
        assert_eq!(c.region, None, "{name}");
        if name.starts_with('ü') {
            assert_eq!(c.region_project.as_deref(), Some("ü"));
        } else {
            assert_eq!(c.region_project, None, "{name}");
        }
    }
    // A CloudTraces folder with nothing under it says nothing.
    assert_eq!(file_context(Path::new("CloudTraces/x.json")).region, None);
}

#[test]
fn the_project_id_is_read_from_resource_urls_of_the_api_form() {
    let id = "0123456789abcdef0123456789abcdef";
    assert_eq!(url_project_id(&format!("/v2/{id}/servers/x")), Some(id));
    assert_eq!(url_project_id(&format!("/v1.0/{id}")), Some(id));
    assert_eq!(
        url_project_id(&format!("/autoscaling-api/v1/{id}/scaling_group/x")),
        Some(id)
    );
    assert_eq!(
        url_project_id(&format!("/api/v3/projects/{id}/clusters/x")),
        Some(id)
    );
    for bad in [
        "/v3/auth/tokens".to_string(),
        format!("/v3/projects/{id}"),
        format!("/a/b/v3/{id}"),
        format!("/api/v3/projects/x{id}"),
        format!("/v3/x/{id}"),
        format!("v2/{id}/x"),
        format!("/x2/{id}/x"),
        format!("/v/{id}/x"),
        "/v2/0123456789abcdef0123456789abcde/x".into(),
        "/v2/0123456789abcdef0123456789abcdeg/x".into(),
        String::new(),
        "/".into(),
        "/v2/ü".into(),
    ] {
        assert_eq!(url_project_id(&bad), None, "{bad}");
    }
}

/// A reader of one document: hands each trace to the callback.
type ReadWith<'a> = dyn FnMut(&mut dyn FnMut(Trace) -> bool) -> Result<FileStats, ReadError> + 'a;

fn outcome(r: Result<FileStats, ReadError>) -> Result<FileStats, &'static str> {
    r.map_err(|e| match e {
        ReadError::Io(_) => "io",
        ReadError::Json(_) => "json",
        ReadError::Stopped => "stopped",
    })
}

/// A file read from memory (`read_file` below the size limit, `read_slice`)
/// gives what the streaming reader gives: the same traces in the same order,
/// the same counts, the same kind of error after the same good part, for
/// every layout, bad elements, hostile text; and for gzip streams cut
/// anywhere the same traces and an error at the same cuts.
#[test]
fn reading_from_memory_agrees_with_the_stream() {
    let hostile = "bücket-名前-\u{202E} \\\"q\\\" \\u0000 😀";
    let documents = [
        format!(
            r#"[{{"trace_id":"a","resource_name":"{hostile}"}},{{"trace_id":"b","time":"2"}}]"#
        ),
        "{\"trace_id\":\"a\"}\n{\"trace_id\":\"b\"}\n".to_string(),
        r#"{"traces":[{"trace_id":"a"},{"trace_id":"b"}],"meta_data":{"count":2}}"#.to_string(),
        r#"[{"trace_id":"a"},{"trace_id":"b","time":"yesterday"},5,null,{"trace_id":"c"}]"#
            .to_string(),
        r#"[{"trace_id":"a"},{"trace_id":"b""#.to_string(),
        r#"[{"trace_id":"a","trace_id":"repeated"},{"trace_id":"b","user":{"name":"x"},"user":{"name":"y"}}]"#
            .to_string(),
        r#""just a string""#.to_string(),
        String::new(),
        format!(
            "[{}]",
            (0..300)
                .map(|i| format!(
                    r#"{{"trace_id":"t{i}","request":{{"x":"{}"}}}}"#,
                    "ü".repeat(i)
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
    ];
    let collect = |f: &mut ReadWith<'_>| {
        let mut got = Vec::new();
        let r = f(&mut |t: Trace| {
            got.push(t.trace_id.unwrap_or_default());
            true
        });
        (got, outcome(r))
    };
    let dir = tempfile::tempdir().expect("tempdir");
    for (n, doc) in documents.iter().enumerate() {
        let stream = collect(&mut |emit| read_stream(doc.as_bytes(), emit));
        assert_eq!(
            collect(&mut |emit| read_slice(doc.as_bytes(), emit)),
            stream,
            "{doc}"
        );
        let plain = dir.path().join(format!("d{n}.json"));
        std::fs::write(&plain, doc).expect("write");
        assert_eq!(
            collect(&mut |emit| read_file(&plain, emit)),
            stream,
            "{doc}"
        );

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(doc.as_bytes()).expect("gzip");
        let zipped = gz.finish().expect("gzip");
        // Cut the gzip stream at 40 places, whole file included.
        for k in 0..=40 {
            let cut = &zipped[..zipped.len() * k / 40];
            let path = dir.path().join(format!("d{n}-{k}.json.gz"));
            std::fs::write(&path, cut).expect("write");
            let stream = collect(&mut |emit| {
                read_stream(
                    std::io::BufReader::new(flate2::read::MultiGzDecoder::new(cut)),
                    emit,
                )
            });
            let (got, r) = collect(&mut |emit| read_file(&path, emit));
            // The same traces; an error for the same cuts. (Its kind may differ:
            // after a gzip read error the streaming reader sees the end of input
            // and reports broken JSON, the in-memory reader the read error.)
            assert_eq!(got, stream.0, "{doc} cut at {k}/40");
            assert_eq!(
                r.is_ok(),
                stream.1.is_ok(),
                "{doc} cut at {k}/40: {r:?} / {:?}",
                stream.1
            );
            if let (Ok(a), Ok(b)) = (r, stream.1) {
                assert_eq!(a, b);
            }
        }
    }
}

#[test]
fn a_file_beyond_the_memory_limit_is_streamed_whole() {
    // Just over the limit: the part read into memory and the rest are joined.
    let one = format!(r#"{{"trace_id":"x","request":"{}"}}"#, "y".repeat(1000));
    let count = (IN_MEMORY_FILE_BYTES as usize / one.len()) + 10;
    let doc = format!("[{}]", vec![one; count].join(","));
    assert!(doc.len() as u64 > IN_MEMORY_FILE_BYTES);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.json");
    std::fs::write(&path, &doc).expect("write");
    let mut n = 0;
    let r = read_file(&path, &mut |_| {
        n += 1;
        true
    });
    assert_eq!(
        outcome(r),
        Ok(FileStats {
            traces: count as u64,
            bad: 0
        })
    );
    assert_eq!(n, count);
}

#[test]
fn a_repeated_member_counts_once_the_last_winning() {
    let doc = r#"[{"trace_id":"a","trace_id":"repeated"},{"trace_id":"b","user":{"name":"x"},"user":{"name":"y"}}]"#;
    let mut got = Vec::new();
    let r = read_slice(doc.as_bytes(), &mut |t: Trace| {
        got.push((t.trace_id, t.user.and_then(|u| u.name)));
        true
    });
    assert_eq!(outcome(r), Ok(FileStats { traces: 2, bad: 0 }));
    assert_eq!(
        got,
        vec![
            (Some("repeated".to_string()), None),
            (Some("b".to_string()), Some("y".to_string()))
        ]
    );
}
