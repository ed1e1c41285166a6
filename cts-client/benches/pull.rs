//! Pull-and-parse throughput: the client pages through every trace of an
//! in-process cts-emulator and decodes it into `Trace`.
//!
//! ```text
//! cargo bench -p cts-client --bench pull                 # 200,000 traces, v3, password token
//! cargo bench -p cts-client --bench pull -- --traces 50000 --version v2 --auth aksk --rounds 3
//! ```
//!
//! Prints one line per round and the best round's traces/s. Every round
//! checks that exactly the emulator's traces arrived, each once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cts_client::{ApiVersion, CtsClient, TraceQuery};
use cts_emulator::{Emulator, EmulatorConfig};
use futures::TryStreamExt;
use otc_auth::{AuthProvider, CloudConfig, Credentials, DomainRef, UserRef};

struct Args {
    traces: usize,
    version: ApiVersion,
    aksk: bool,
    rounds: usize,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        traces: 200_000,
        version: ApiVersion::V3,
        aksk: false,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--traces" => a.traces = value("--traces")?.parse().map_err(|e| format!("--traces: {e}"))?,
            "--version" => a.version = value("--version")?.parse().map_err(|e| format!("{e}"))?,
            "--auth" => a.aksk = value("--auth")? == "aksk",
            "--rounds" => a.rounds = value("--rounds")?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--bench" => {} // passed by `cargo bench`
            other => return Err(format!("unknown argument {other:?}; use --traces N --version v1|v2|v3 --auth password|aksk --rounds N")),
        }
    }
    Ok(a)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let cfg = EmulatorConfig {
        history_count: args.traces,
        history_span: Duration::from_secs(86_400),
        ..EmulatorConfig::default()
    };
    let emu = Emulator::start(cfg, "127.0.0.1:0".parse()?).await?;
    let project = emu
        .projects()
        .into_iter()
        .next()
        .ok_or("the emulator has no project")?;
    let expected: HashSet<String> = emu.visible_trace_ids(&project.id).into_iter().collect();
    eprintln!(
        "emulator: {} traces prefilled in {:.1?}",
        expected.len(),
        started.elapsed()
    );

    let creds = emu.credentials();
    let credentials = if args.aksk {
        Credentials::AkSk {
            access_key: creds.ak.clone(),
            secret_key: otc_auth::Secret::new(creds.sk.expose()),
            security_token: None,
        }
    } else {
        Credentials::Password {
            user: UserRef::Name {
                name: creds.username.clone(),
                domain: DomainRef::Name(emu.domain().name),
            },
            password: otc_auth::Secret::new(creds.password.expose()),
        }
    };
    let mut cloud = CloudConfig::new("bench", emu.iam_url(), project.region.clone(), credentials);
    cloud.project_name = Some(project.name.clone());
    let provider = Arc::new(AuthProvider::new(cloud)?);
    let client = CtsClient::builder_from_provider(provider)
        .await?
        .api_version(args.version)
        .build()?;

    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())?;
    let query = TraceQuery::new()
        .window_ms(now - 2 * 86_400_000, now + 60_000)
        .limit(200);
    let mut best = 0.0_f64;
    for round in 1..=args.rounds {
        let t0 = Instant::now();
        let mut pages = std::pin::pin!(client.pages(query.clone()));
        let (mut n_pages, mut seen) = (0usize, HashSet::with_capacity(expected.len()));
        while let Some(page) = pages.try_next().await? {
            n_pages += 1;
            for t in page.traces {
                let id = t.trace_id.ok_or("a trace without trace_id")?;
                if !seen.insert(id.clone()) {
                    return Err(format!("trace {id} arrived twice").into());
                }
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        if seen != expected {
            return Err(format!(
                "got {} traces, expected {} (missing or foreign ids)",
                seen.len(),
                expected.len()
            )
            .into());
        }
        let rate = seen.len() as f64 / secs;
        best = best.max(rate);
        println!(
            "round {round}: {} traces in {n_pages} pages ({}, {}) in {secs:.2} s = {rate:.0} traces/s",
            seen.len(),
            args.version,
            if args.aksk { "AK/SK" } else { "token" }
        );
    }
    println!("best: {best:.0} traces/s");
    emu.shutdown().await;
    Ok(())
}
