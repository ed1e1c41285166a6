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
    #[arg(long, conflicts_with = "question")]
    list: bool,
    /// The question to answer, e.g. resource-changes (see --list).
    #[arg(required_unless_present = "list")]
    question: Option<String>,
    /// A parameter as name=value; repeat it for several (list parameters also split on commas).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// How to print the answer.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Neo4j URI; schemes neo4j, neo4j+s, neo4j+ssc, bolt, bolt+s, bolt+ssc.
    #[arg(long, env = "NEO4J_URI", default_value = "neo4j://localhost:7687")]
    neo4j_uri: String,
    /// Neo4j user.
    #[arg(long, env = "NEO4J_USER", default_value = "neo4j")]
    neo4j_user: String,
    /// Neo4j password (prefer the environment variable over the flag).
    #[arg(
        long,
        env = "NEO4J_PASSWORD",
        hide_env_values = true,
        default_value = ""
    )]
    neo4j_password: String,
    /// Neo4j database name; empty means the server's default database.
    #[arg(long, env = "NEO4J_DATABASE", default_value = "")]
    neo4j_database: String,
    /// PEM file of the CA that signed Neo4j's certificate (neo4j+s/bolt+s with a private CA).
    #[arg(long, env = "NEO4J_CA_CERT", default_value = "")]
    neo4j_ca_cert: String,
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
    if let Err(e) = playbook::check(&name, &values) {
        return usage(&name, &e);
    }
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
    runtime.block_on(answer(&cli, &name, &values))
}

async fn answer(cli: &QueryArgs, name: &str, values: &Args) -> ExitCode {
    let mut config = GraphConfig::new(
        cli.neo4j_uri.clone(),
        cli.neo4j_user.clone(),
        cli.neo4j_password.clone(),
    );
    config.database = Some(cli.neo4j_database.trim().to_owned()).filter(|d| !d.is_empty());
    config.ca_cert = Some(cli.neo4j_ca_cert.trim())
        .filter(|c| !c.is_empty())
        .map(Into::into);
    config.max_connections = 1;
    config.max_retries = 2;
    config.connect_timeout = Duration::from_secs(10);
    let writer = match GraphWriter::connect(config).await {
        Ok(w) => w,
        Err(e) => return failure(&e),
    };
    let table = match playbook::run(&writer, name, values).await {
        Ok(t) => t,
        Err(e) => return failure(&e),
    };
    match cli.format {
        Format::Table => {
            print!("{}", table.to_text());
            eprintln!("({} rows)", table.rows.len());
        }
        Format::Markdown => print!("{}", table.to_markdown()),
        Format::Json => {
            let doc = serde_json::json!({
                "question": name,
                "columns": table.columns,
                "rows": table.rows,
            });
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

fn failure(e: &Error) -> ExitCode {
    eprintln!("neo4j-sink query: {e}");
    match e {
        Error::Config { .. } | Error::Auth { .. } => ExitCode::from(EXIT_CONFIG),
        Error::Question { .. } => ExitCode::from(EXIT_USAGE),
        _ => ExitCode::FAILURE,
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
