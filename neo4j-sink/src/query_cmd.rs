//! `neo4j-sink query`: the investigation playbook from a shell, so nobody
//! has to write Cypher to ask the audit graph a standard question.
//!
//! `--list` prints the questions of `trace_graph::playbook`; a question name
//! with `--param name=value` answers it as a table, JSON or Markdown. The
//! question and its arguments are checked before anything connects, and the
//! connection uses the sink's own `NEO4J_*` settings. Exit codes: 0 answered,
//! 2 usage mistake, 78 unusable settings or refused credentials, 1 Neo4j
//! unreachable or refusing the query.

use clap::error::ErrorKind;
use clap::{Parser, ValueEnum};
use neo4j_sink::config::Neo4jArgs;
use neo4j_sink::config::Neo4jSettings;
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;
use trace_graph::playbook::{self, Args, QUESTIONS};
use trace_graph::{Error, GraphConfig, GraphWriter};

/// sysexits EX_CONFIG, as for the server.
const EXIT_CONFIG: u8 = 78;
/// A usage mistake (clap's code too).
const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "neo4j-sink query",
    about = "Answers an investigation question (docs/queries.md) from the audit graph",
    after_help = "Examples:\n  neo4j-sink query --list\n  neo4j-sink query resource-changes \
                  --param resource=ecs-0001 --param projects=<project id>\n  \
                  neo4j-sink query user-activity -p user=alice -p from=2024-06-03 --format json"
)]
struct QueryArgs {
    /// List the questions and their parameters.
    #[arg(long, conflicts_with_all = ["question", "cypher"])]
    list: bool,
    /// The question to answer, e.g. resource-changes (see --list).
    #[arg(required_unless_present_any = ["list", "cypher"], conflicts_with = "cypher")]
    question: Option<String>,
    /// Ad-hoc read-only Cypher instead of a question, run in a read transaction (a query that
    /// writes is refused); --param values become $parameters (strings; several of one name a list).
    #[arg(long, value_name = "CYPHER")]
    cypher: Option<String>,
    /// A parameter as name=value; repeat it for several (list parameters also split on commas).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Widest table line in terminal columns; longer cells are cut with `…`; 0 = no limit.
    /// Unset: $COLUMNS when stdout is a terminal, else 100.
    #[arg(long, env = "QUERY_WIDTH", value_name = "COLUMNS")]
    width: Option<String>,
    /// The Neo4j connection (the same settings as the server's).
    #[command(flatten)]
    neo4j: Neo4jArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns for a terminal.
    Table,
    /// `{"question", "columns", "rows"}` for scripts.
    Json,
    /// A Markdown table.
    Markdown,
}

/// Runs `neo4j-sink query …`; `args` starts with `query`.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match QueryArgs::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if cli.list {
        print!("{}", list());
        return ExitCode::SUCCESS;
    }
    let name = cli.question.clone().unwrap_or_default();
    let mut values = Args::new();
    for pair in &cli.params {
        if let Err(e) = values.push_pair(pair) {
            return usage(&name, &e);
        }
    }
    if cli.cypher.is_none() {
        if let Err(e) = playbook::check(&name, &values) {
            return usage(&name, &e);
        }
    }
    let columns = std::env::var("COLUMNS").ok();
    let width = match table_width(
        cli.width.as_deref(),
        columns.as_deref(),
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
    ) {
        Ok(w) => w,
        Err(message) => {
            eprintln!("neo4j-sink query: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("neo4j-sink query: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(answer(&cli, &name, &values, width))
}

/// Default table width when stdout is not a terminal (or its width is unknown).
const DEFAULT_WIDTH: usize = 100;

/// The table width: `--width`/`QUERY_WIDTH` if given (0 = no limit), else the
/// terminal's `COLUMNS` when stdout is a terminal, else [`DEFAULT_WIDTH`].
fn table_width(flag: Option<&str>, columns: Option<&str>, terminal: bool) -> Result<usize, String> {
    if let Some(value) = flag {
        return value.trim().parse::<usize>().map_err(|_| {
            format!(
                "invalid setting QUERY_WIDTH (--width): must be a number of terminal columns, \
                 e.g. 100, or 0 for no limit; got {value:?}"
            )
        });
    }
    let terminal_width = columns
        .filter(|_| terminal)
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0);
    Ok(terminal_width.unwrap_or(DEFAULT_WIDTH))
}

async fn answer(cli: &QueryArgs, name: &str, values: &Args, width: usize) -> ExitCode {
    // The server's own checks: a missing password is reported as missing, not as
    // "authentication failed" from the server.
    let settings = match cli.neo4j.connection() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("neo4j-sink query: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut config = GraphConfig::new(
        settings.uri.clone(),
        settings.user.clone(),
        settings.password.expose().to_owned(),
    );
    config.database = settings.database.clone();
    config.ca_cert = settings.ca_cert.clone();
    config.max_connections = 1;
    config.max_retries = 2;
    config.connect_timeout = Duration::from_secs(10);
    let writer = match GraphWriter::connect(config).await {
        Ok(w) => w,
        Err(e) => return failure(&e, &settings),
    };
    let answered = match &cli.cypher {
        Some(cypher) => playbook::run_cypher(&writer, cypher, values).await,
        None => playbook::run(&writer, name, values).await,
    };
    let table = match answered {
        Ok(t) => t,
        Err(e) => return failure(&e, &settings),
    };
    let name = if cli.cypher.is_some() { "cypher" } else { name };
    // Projects by name where the graph knows it (questions only: ad-hoc Cypher returns what it asks).
    let names = if cli.cypher.is_some() {
        Default::default()
    } else {
        match playbook::project_names(&writer, &playbook::project_ids(&table)).await {
            Ok(names) => names,
            Err(e) => {
                eprintln!("neo4j-sink query: project names not shown, ids instead: {e}");
                Default::default()
            }
        }
    };
    let shown = table.with_project_names(&names);
    match cli.format {
        Format::Table => {
            print!("{}", shown.to_text_width(width));
            eprintln!("({} rows)", table.rows.len());
        }
        Format::Markdown => print!("{}", shown.to_markdown()),
        Format::Json => {
            // Ids stay ids for scripts; the known names come beside them.
            let mut doc = serde_json::json!({
                "question": name,
                "columns": table.columns,
                "rows": table.rows,
            });
            if !names.is_empty() {
                doc["project_names"] = serde_json::json!(names);
            }
            println!("{doc}");
        }
    }
    ExitCode::SUCCESS
}

fn usage(name: &str, e: &Error) -> ExitCode {
    let hint = if playbook::find(name).is_some() {
        format!("`neo4j-sink query --list` shows the parameters of {name}")
    } else {
        "`neo4j-sink query --list` lists the questions".to_owned()
    };
    eprintln!("neo4j-sink query: {e}\n({hint})");
    ExitCode::from(EXIT_USAGE)
}

fn failure(e: &Error, settings: &Neo4jSettings) -> ExitCode {
    eprintln!("neo4j-sink query: {e}");
    if let Some(fix) = fix_for(e, settings) {
        eprintln!("{fix}");
    }
    match e {
        Error::Config { .. } | Error::Auth { .. } => ExitCode::from(EXIT_CONFIG),
        Error::Question { .. } => ExitCode::from(EXIT_USAGE),
        _ => ExitCode::FAILURE,
    }
}

/// What to do about a Neo4j failure, naming the URI, user or database involved.
fn fix_for(e: &Error, settings: &Neo4jSettings) -> Option<String> {
    let db = settings.database.as_deref().unwrap_or("<server default>");
    match e {
        Error::Transient { .. } => Some(format!(
            "(cannot reach Neo4j at {}: check that the server runs and NEO4J_URI / --neo4j-uri \
             names its Bolt host and port, e.g. neo4j://localhost:7687)",
            settings.uri
        )),
        Error::Auth { .. } => Some(format!("(Neo4j at {})", settings.uri)),
        Error::Config {
            setting: "database",
            ..
        } => Some(format!(
            "(Neo4j at {} has no usable database {db}: set NEO4J_DATABASE / --neo4j-database to an \
             existing database (SHOW DATABASES lists them), or leave it empty for the default)",
            settings.uri
        )),
        Error::Config { .. } => Some(format!(
            "(check NEO4J_URI / --neo4j-uri ({}) and NEO4J_CA_CERT)",
            settings.uri
        )),
        _ => None,
    }
}

/// The `--list` text: every question with its title and parameters.
fn list() -> String {
    let width = QUESTIONS.iter().map(|q| q.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for q in QUESTIONS {
        out.push_str(&format!("{:width$}  {}\n", q.name, q.title));
        let params: Vec<String> = q
            .params
            .iter()
            .map(|p| {
                let kind = p.kind.label();
                match (p.required, p.default) {
                    (true, _) => format!("{}=<{kind}, required>", p.name),
                    (false, Some(d)) => format!("{}=<{kind}, default {d}>", p.name),
                    (false, None) => format!("{}=<{kind}>", p.name),
                }
            })
            .collect();
        out.push_str(&format!("{:width$}  params: {}\n", "", params.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_names_every_question_and_its_required_parameters() {
        let text = list();
        for q in QUESTIONS {
            assert!(text.contains(q.name), "{}", q.name);
        }
        assert!(text.contains("resource=<text, required>"), "{text}");
        assert!(text.contains("limit=<integer, default 5>"), "{text}");
    }

    #[test]
    fn the_width_comes_from_the_flag_then_the_terminal_then_100() {
        assert_eq!(table_width(Some("60"), Some("200"), true), Ok(60));
        assert_eq!(table_width(Some("0"), None, false), Ok(0));
        assert_eq!(table_width(None, Some("132"), true), Ok(132));
        assert_eq!(table_width(None, Some("132"), false), Ok(100));
        assert_eq!(table_width(None, Some("wide"), true), Ok(100));
        assert_eq!(table_width(None, None, true), Ok(100));
        let err = table_width(Some("-3"), None, false).expect_err("negative");
        assert!(
            err.contains("QUERY_WIDTH") && err.contains("\"-3\""),
            "{err}"
        );
    }

    #[test]
    fn cypher_replaces_the_question() {
        let parse = |a: &[&str]| QueryArgs::try_parse_from(a.iter().map(OsString::from));
        let cli = parse(&["query", "--cypher", "RETURN 1 AS one"]).expect("valid");
        assert_eq!(cli.cypher.as_deref(), Some("RETURN 1 AS one"));
        assert!(parse(&["query", "logins", "--cypher", "RETURN 1"]).is_err());
        assert!(parse(&["query", "--list", "--cypher", "RETURN 1"]).is_err());
    }

    #[test]
    fn a_question_is_required_unless_listing() {
        let parse = |a: &[&str]| QueryArgs::try_parse_from(a.iter().map(OsString::from));
        assert!(parse(&["query"]).is_err());
        assert!(parse(&["query", "--list"]).is_ok());
        let cli =
            parse(&["query", "logins", "-p", "projects=a", "--format", "json"]).expect("valid");
        assert_eq!(cli.question.as_deref(), Some("logins"));
        assert_eq!(cli.params, ["projects=a"]);
        assert_eq!(cli.format, Format::Json);
    }
}
