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
