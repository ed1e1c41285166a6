//! `cts-emulator`: runs the OTC IAM + CTS emulator on a local port until
//! SIGTERM or Ctrl-C. Only wiring lives here: flags (each also an env var)
//! become an [`EmulatorConfig`]; the library does the rest.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use cts_emulator::generator::Scenario;
use cts_emulator::{
    ArchiveLayout, ArchiveOptions, AuthKind, Credentials, Emulator, EmulatorConfig, Faults, Secret,
    Shape, V2StatusField,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShapeArg {
    Real,
    Doc,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
#[allow(clippy::enum_variant_names)]
enum StatusFieldArg {
    TraceRating,
    TraceStatus,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AuthArg {
    Password,
    Aksk,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LayoutArg {
    Array,
    Ndjson,
    Object,
}

/// Local emulator of OTC IAM and the Cloud Trace Service, with generated traces.
#[derive(Debug, Parser)]
#[command(name = "cts-emulator", version, about)]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, env = "CTS_EMULATOR_PORT", default_value_t = 0)]
    port: u16,
    /// Address to listen on.
    #[arg(long, env = "CTS_EMULATOR_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Seed of all generated data.
    #[arg(long, env = "CTS_EMULATOR_SEED", default_value_t = 42)]
    seed: u64,
    /// Domain (account) name.
    #[arg(
        long,
        env = "CTS_EMULATOR_DOMAIN",
        default_value = "OTC00000000001000000001"
    )]
    domain: String,
    /// Project names, comma-separated (e.g. eu-de_app1,eu-de_app2).
    #[arg(
        long,
        env = "CTS_EMULATOR_PROJECTS",
        value_delimiter = ',',
        default_value = "eu-de_demo"
    )]
    projects: Vec<String>,
    /// Number of IAM users in the domain.
    #[arg(long, env = "CTS_EMULATOR_USERS", default_value_t = 24)]
    users: usize,
    /// Traces per project generated at start.
    #[arg(long, env = "CTS_EMULATOR_HISTORY", default_value_t = 1000)]
    history: usize,
    /// Seconds of history before start.
    #[arg(long, env = "CTS_EMULATOR_HISTORY_SPAN_SECS", default_value_t = 86_400)]
    history_span_secs: u64,
    /// New traces per second and project.
    #[arg(long, env = "CTS_EMULATOR_LIVE_RATE", default_value_t = 0.0)]
    live_rate: f64,
    /// Largest delay (seconds) between a trace's time and its visibility.
    #[arg(
        long,
        env = "CTS_EMULATOR_MAX_INGESTION_DELAY_SECS",
        default_value_t = 0.0
    )]
    max_ingestion_delay_secs: f64,
    /// Share of CTS requests answered 429 (0.0..=1.0).
    #[arg(long, env = "CTS_EMULATOR_FAULT_429_SHARE", default_value_t = 0.0)]
    fault_429_share: f64,
    /// Retry-After seconds on injected 429 answers.
    #[arg(long, env = "CTS_EMULATOR_RETRY_AFTER_SECS", default_value_t = 1)]
    retry_after_secs: u64,
    /// Share of CTS requests answered 500 (0.0..=1.0).
    #[arg(long, env = "CTS_EMULATOR_FAULT_500_SHARE", default_value_t = 0.0)]
    fault_500_share: f64,
    /// Share of CTS requests answered slowly (0.0..=1.0).
    #[arg(long, env = "CTS_EMULATOR_SLOW_SHARE", default_value_t = 0.0)]
    slow_share: f64,
    /// Extra latency of a slow answer, in milliseconds.
    #[arg(long, env = "CTS_EMULATOR_SLOW_MS", default_value_t = 500)]
    slow_ms: u64,
    /// JSON shape of traces: inferred real wire shape, or the documented example shape.
    #[arg(long, env = "CTS_EMULATOR_SHAPE", value_enum, default_value = "real")]
    shape: ShapeArg,
    /// Status field name on the v2.0 API.
    #[arg(
        long,
        env = "CTS_EMULATOR_V2_STATUS_FIELD",
        value_enum,
        default_value = "trace-status"
    )]
    v2_status_field: StatusFieldArg,
    /// Accepted IAM user name.
    #[arg(long, env = "CTS_EMULATOR_USERNAME", default_value = "demo-user")]
    username: String,
    /// Accepted password.
    #[arg(
        long,
        env = "CTS_EMULATOR_PASSWORD",
        default_value = "demo-password",
        hide_default_value = true
    )]
    password: String,
    /// Accepted access key.
    #[arg(long, env = "CTS_EMULATOR_AK", default_value = "EMULATORAK0000000001")]
    ak: String,
    /// Accepted secret key.
    #[arg(
        long,
        env = "CTS_EMULATOR_SK",
        default_value = "EmulatorSecretKey0000000000000000000000001",
        hide_default_value = true
    )]
    sk: String,
    /// Token lifetime in seconds.
    #[arg(long, env = "CTS_EMULATOR_TOKEN_TTL_SECS", default_value_t = 86_400)]
    token_ttl_secs: u64,
    /// Put the last trace id into `marker` on the final page too (instead of null).
    #[arg(long, env = "CTS_EMULATOR_MARKER_ON_LAST_PAGE")]
    marker_on_last_page: bool,
    /// Add a `ctsv3` entry to the catalog.
    #[arg(long, env = "CTS_EMULATOR_CATALOG_CTSV3")]
    catalog_ctsv3: bool,
    /// Write a clouds.yaml for this emulator to this path.
    #[arg(long, env = "CTS_EMULATOR_CLOUDS_YAML")]
    clouds_yaml: Option<PathBuf>,
    /// Credentials written into the clouds.yaml.
    #[arg(
        long,
        env = "CTS_EMULATOR_CLOUDS_AUTH",
        value_enum,
        default_value = "password"
    )]
    clouds_auth: AuthArg,
    /// Write OBS-layout archives of the history into this directory at start.
    #[arg(long, env = "CTS_EMULATOR_ARCHIVE_DIR")]
    archive_dir: Option<PathBuf>,
    /// JSON layout of archive files.
    #[arg(
        long,
        env = "CTS_EMULATOR_ARCHIVE_LAYOUT",
        value_enum,
        default_value = "array"
    )]
    archive_layout: LayoutArg,
    /// Write plain `.json` archive files instead of `.json.gz`.
    #[arg(long, env = "CTS_EMULATOR_ARCHIVE_NO_GZIP")]
    archive_no_gzip: bool,
    /// Patterns the detection rules should find, added to the history: `all`, `none`, `list` (print
    /// them and exit) or names, comma-separated; seeded by --seed (docs/emulator.md).
    #[arg(long, env = "CTS_EMULATOR_SCENARIOS", default_value = "none")]
    scenarios: String,
}

/// A flag value the library never sees because it cannot be converted.
#[derive(Debug)]
struct FlagError(String);

impl std::fmt::Display for FlagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FlagError {}

fn config(a: &Args) -> anyhow::Result<EmulatorConfig> {
    let delay = a.max_ingestion_delay_secs;
    if !delay.is_finite() || !(0.0..=3600.0).contains(&delay) {
        let msg = format!("--max-ingestion-delay-secs (CTS_EMULATOR_MAX_INGESTION_DELAY_SECS) must be 0 to 3600 seconds, e.g. 30; got {delay}");
        return Err(FlagError(msg).into());
    }
    Ok(EmulatorConfig {
        seed: a.seed,
        domain_name: a.domain.clone(),
        projects: a
            .projects
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
        users: a.users,
        history_count: a.history,
        history_span: Duration::from_secs(a.history_span_secs),
        live_rate_per_sec: a.live_rate,
        max_ingestion_delay: Duration::from_secs_f64(a.max_ingestion_delay_secs),
        faults: Faults {
            rate_limited_share: a.fault_429_share,
            retry_after_secs: a.retry_after_secs,
            server_error_share: a.fault_500_share,
            slow_share: a.slow_share,
            slow_delay: Duration::from_millis(a.slow_ms),
        },
        shape: match a.shape {
            ShapeArg::Real => Shape::Real,
            ShapeArg::Doc => Shape::Doc,
        },
        v2_status_field: match a.v2_status_field {
            StatusFieldArg::TraceRating => V2StatusField::TraceRating,
            StatusFieldArg::TraceStatus => V2StatusField::TraceStatus,
        },
        credentials: Credentials {
            username: a.username.clone(),
            password: Secret::new(a.password.clone()),
            ak: a.ak.clone(),
            sk: Secret::new(a.sk.clone()),
        },
        token_ttl: Duration::from_secs(a.token_ttl_secs),
        marker_on_last_page: a.marker_on_last_page,
        catalog_ctsv3: a.catalog_ctsv3,
        scenarios: Scenario::parse_list(&a.scenarios)
            .map_err(|e| FlagError(format!("--scenarios (CTS_EMULATOR_SCENARIOS): {e}")))?,
    })
}

/// Registers SIGTERM and Ctrl-C handlers now (so a signal arriving right
/// after start-up is not lost) and returns a future that ends on either.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the Ctrl-C handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let cfg = config(&args)?;
    let stop = shutdown_signal()?;
    let emu = Emulator::start(cfg, SocketAddr::new(args.bind, args.port)).await?;
    let c = emu.credentials();
    let d = emu.domain();
    println!("cts-emulator {} listening", env!("CARGO_PKG_VERSION"));
    println!("  base URL : {}", emu.base_url());
    println!("  IAM URL  : {}", emu.iam_url());
    println!("  domain   : {} (id {})", d.name, d.id);
    for p in emu.projects() {
        println!(
            "  project  : {} (id {}, region {}) CTS {}v1.0/{}",
            p.name,
            p.id,
            p.region,
            emu.base_url(),
            p.id
        );
    }
    // These are the emulator's own test credentials, printed so clients can be pointed at it.
    println!(
        "  user     : {} / password {}",
        c.username,
        c.password.expose()
    );
    println!("  AK / SK  : {} / {}", c.ak, c.sk.expose());
    if let Some(path) = &args.clouds_yaml {
        let auth = match args.clouds_auth {
            AuthArg::Password => AuthKind::Password,
            AuthArg::Aksk => AuthKind::AkSk,
        };
        std::fs::write(path, emu.clouds_yaml(auth))
            .with_context(|| format!("writing --clouds-yaml {}", path.display()))?;
        println!("  clouds.yaml written to {}", path.display());
    }
    if let Some(dir) = &args.archive_dir {
        let opts = ArchiveOptions {
            gzip: !args.archive_no_gzip,
            layout: match args.archive_layout {
                LayoutArg::Array => ArchiveLayout::JsonArray,
                LayoutArg::Ndjson => ArchiveLayout::Ndjson,
                LayoutArg::Object => ArchiveLayout::TracesObject,
            },
            ..ArchiveOptions::default()
        };
        let s = emu.write_archives(dir, &opts)?;
        println!(
            "  archives : {} traces in {} files under {}",
            s.trace_count,
            s.files.len(),
            dir.display()
        );
    }
    stop.await;
    println!("cts-emulator shutting down");
    emu.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // clap exits 2 on a usage mistake; the documented code for a bad flag is 78
    // (sysexits EX_CONFIG), like a flag value the emulator itself refuses.
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(78)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if args.scenarios.trim() == "list" {
        for s in Scenario::ALL {
            println!("{:<28} {}", s.name(), s.description());
        }
        return ExitCode::SUCCESS;
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cts-emulator: {e:#}");
            let config_error = e.downcast_ref::<FlagError>().is_some()
                || matches!(
                    e.downcast_ref::<cts_emulator::Error>(),
                    Some(cts_emulator::Error::Config { .. })
                );
            ExitCode::from(if config_error { 78 } else { 1 })
        }
    }
}
