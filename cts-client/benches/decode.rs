//! How fast a trace's JSON text becomes a [`cts_client::Trace`], and back.
//!
//! Every trace the exporter reads (a list page, an archive file) and every
//! event the sink receives is decoded once; this measures that alone, on
//! synthetic traces from the `cts-emulator` generator (the inferred real wire
//! shape: request and response bodies, user object, about 865 bytes each).
//!
//! ```sh
//! cargo bench -p cts-client --bench decode                 # 200,000 traces, 5 rounds
//! DECODE_TRACES=50000 DECODE_ROUNDS=3 cargo bench -p cts-client --bench decode
//! ```
//!
//! Prints, per round, traces/s and ns per trace for: `serde_json::from_str`
//! into `Trace`; the same text into a `serde_json::Value` only (what any
//! decoder must at least pay to read the text); `Value` then
//! `serde_json::from_value::<Trace>` (the sink's path before it parsed
//! event data straight from the text); the archive reader on all traces as
//! one JSON array, from a `Read` (`read_stream`, how a file larger than
//! `IN_MEMORY_FILE_BYTES` is read) and from memory (`read_slice`); and
//! `serde_json::to_string` of a `Trace` (the exporter's encoding).

use cts_client::Trace;
use cts_emulator::generator::{Generator, TenantSpec};
use serde_json::Value;
use std::hint::black_box;
use std::time::Instant;

fn env_num(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("decode bench: {name} must be a whole number, got {v:?}");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

fn main() {
    let n = env_num("DECODE_TRACES", 200_000).max(1);
    let rounds = env_num("DECODE_ROUNDS", 5).max(1);
    let mut g = Generator::new(
        7,
        TenantSpec::new("OTC00000000001000000001", "eu-de_bench", 60),
    );
    let texts: Vec<String> = (0..n)
        .map(|i| g.next_trace(1_704_067_200_000 + i as i64 * 50).to_string())
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "decode bench: {n} generated traces, {} bytes of JSON on average",
        bytes / n
    );
    // The same traces as one archive document (a JSON array), for the archive
    // reader from a `Read` (a file as a stream) and from memory.
    let document = format!("[{}]", texts.join(","));
    let traces: Vec<Trace> = texts
        .iter()
        .map(|t| serde_json::from_str(t).expect("generator emits traces"))
        .collect();
    for round in 1..=rounds {
        let mut line = format!("round {round}:");
        let mut run = |name: &str, f: &mut dyn FnMut()| {
            let start = Instant::now();
            f();
            let secs = start.elapsed().as_secs_f64();
            line.push_str(&format!(
                "  {name} {:.0}/s ({:.0} ns)",
                n as f64 / secs,
                secs * 1e9 / n as f64
            ));
        };
        run("from_str::<Trace>", &mut || {
            for t in &texts {
                black_box(serde_json::from_str::<Trace>(t).expect("decodes"));
            }
        });
        run("from_str::<Value>", &mut || {
            for t in &texts {
                black_box(serde_json::from_str::<Value>(t).expect("decodes"));
            }
        });
        run("Value+from_value::<Trace>", &mut || {
            for t in &texts {
                let v: Value = serde_json::from_str(t).expect("decodes");
                black_box(serde_json::from_value::<Trace>(v).expect("decodes"));
            }
        });
        run("archive read_stream", &mut || {
            let r = cts_client::archive::read_stream(document.as_bytes(), &mut |t| {
                black_box(t);
                true
            });
            assert_eq!(r.expect("reads").traces, n as u64);
        });
        run("archive read_slice", &mut || {
            let r = cts_client::archive::read_slice(document.as_bytes(), &mut |t| {
                black_box(t);
                true
            });
            assert_eq!(r.expect("reads").traces, n as u64);
        });
        run("to_string(Trace)", &mut || {
            for t in &traces {
                black_box(serde_json::to_string(t).expect("encodes"));
            }
        });
        println!("{line}");
    }
}
