//! The playbook page (the repository's `docs/queries.md`, <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/queries.md>), generated from [`QUESTIONS`] and sample answers, so the
//! page shows exactly the Cypher that runs.
//!
//! The samples are real answers: trace-graph's playbook test loads a fixture
//! data set into Neo4j, runs every question, checks each answer against the
//! expected one, and checks that the page equals [`markdown`] of those same
//! expected answers (`PLAYBOOK_WRITE_DOCS=1` rewrites it).

use super::{Args, ParamKind, Question, Table, QUESTIONS};

/// One question's example: the arguments it was asked with and the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The question's name.
    pub question: String,
    /// The arguments, as they would be typed on the command line.
    pub args: Args,
    /// The answer on the sample data.
    pub table: Table,
}

const INTRO: &str = "\
# Investigation playbook

<!-- Generated from trace_graph::playbook::QUESTIONS by
     `PLAYBOOK_WRITE_DOCS=1 cargo test -p trace-graph --test playbook`. Do not edit by hand:
     a test fails when this page and the library differ. -->

The questions people load audit traces into a graph for, each answered by one Cypher query that
ships with the product. The queries live once, in `trace_graph::playbook::QUESTIONS`; this page is
generated from that list, and every sample result below is a real answer: the playbook test writes the
fixture traces in `trace-graph/tests/fixtures/playbook/` through the real `GraphWriter` into Neo4j,
asks every question and compares the answer with the one shown here.
[graph-model.md](graph-model.md) describes the nodes and relationships the queries walk.

## Asking a question

Without writing Cypher, with the same `NEO4J_URI`, `NEO4J_USER`, `NEO4J_PASSWORD` (and
`NEO4J_DATABASE`, `NEO4J_CA_CERT`) settings as the sink:

```sh
neo4j-sink query --list                                   # every question, with its parameters
neo4j-sink query resource-changes --param resource=ecs-0001 --param projects=<project id>
neo4j-sink query user-activity --param user=alice --param from=2024-06-03 --format json
```

`--format` is `table` (default), `json` (`{\"question\": …, \"columns\": [...], \"rows\": [[...]]}`)
or `markdown`. The question and its parameters are checked before anything connects. The command
exits with 0 after printing the answer, 2 for a usage mistake (unknown question or parameter, a value
of the wrong type: the message names it), 78 for unusable connection settings or refused
credentials, and 1 when Neo4j cannot be reached or refuses the query. Error messages name the
setting to fix: a missing `NEO4J_PASSWORD` is reported as missing before anything connects, an
unreachable server with its URI, a wrong `NEO4J_DATABASE` with the database name.

Tables fit a terminal: no line is wider than `--width` (`QUERY_WIDTH`) columns, by default the
terminal's width (`$COLUMNS`) when the output is a terminal and 100 otherwise (`0`: no limit). The
widest columns are narrowed first and a cell that does not fit is cut and ends in `…`; wide
characters (CJK) count as two columns and are never split. JSON and Markdown are never cut.

For anything the playbook does not ask, `--cypher` runs your own query, read-only:

```sh
neo4j-sink query --cypher 'MATCH (u:User)<-[:PERFORMED_BY]-(a:Action) RETURN u.name AS user, count(a) AS actions ORDER BY actions DESC LIMIT toInteger($n)' -p n=10
neo4j-sink query --cypher 'MATCH (t:Tenant) WHERE t.region = $region RETURN t.projectId AS project' -p region=eu-de --format json
```

It runs in a read transaction: a query that writes (`CREATE`, `MERGE`, `SET`, `DELETE`, …) is
refused with exit code 2 and nothing is written. `-p name=value` values arrive as string
`$parameters` (the same name given several times as a list of strings; convert in Cypher, e.g.
`LIMIT toInteger($n)`). Columns come in the order of the `RETURN` clause; nodes and relationships
print as their properties. The JSON form is `{\"question\": \"cypher\", \"columns\", \"rows\"}`. A syntax error exits 1 with Neo4j's message.

From Rust, `trace_graph::playbook::run(&writer, \"user-activity\", &Args::new().with(\"user\", \"alice\"))`
returns the same `Table`.

Conventions shared by every question:

- **Parameters only.** Values are sent as query parameters, never pasted into the Cypher text, so
  a value such as `x' OR 1=1` is just a strange name that matches nothing.
- **`projects`** restricts a question to the given project ids (repeat the parameter or separate
  ids with commas). Without it a question reads every project in the database.
- **`from` / `to`** bound the time window: `from` inclusive, `to` exclusive, as ISO-8601 dates or
  date-times (`2024-06-03`, `2024-06-03T08:00:00Z`, `2024-06-03T10:00:00+02:00`); without an offset
  a time is UTC. Times in results are UTC (`off-hours` also prints local time).
- **Users** are shown by name; a system principal (an action without a user) as `system:<service>`.
  `user` parameters match the user's name or IAM user id.
- **Projects** are shown by name in `table` and `markdown` output where the project's `Tenant` node
  has a `name` property; otherwise, and always in `json` (which adds `\"project_names\": {id: name}`),
  by id. The `projects` parameter takes ids.
- **Reads** are operations named `list…`, `get…`, `show…`, `query…`, `describe…`, `search…`,
  `check…` or `count…`; \"changes\" are all other operations.
- **Values of any length.** A name, id or address longer than 4096 bytes is stored whole in
  `<property>Full` and indexed by a shortened form ([graph-model.md](graph-model.md#long-values));
  the `resource`, `user` and `ip` parameters still match it exactly, with
  `x.name = $v OR (x.name STARTS WITH CASE WHEN size($v) > 1024 THEN left($v, 1024) END AND x.nameFull = $v)`
  (two index seeks), and results show whole values (`coalesce(x.nameFull, x.name)`). On Linux one
  command-line argument holds at most 128 KiB, so give a longer value from Rust
  (`playbook::run`), or find it by a part with `resource-lookup`.

## The sample data

The samples come from 35 hand-written traces in three projects of one account, `proj-prod`
(eu-de), `proj-dev` (eu-nl) and `proj-data` (eu-de), from Monday 3 to Saturday 8 June 2024.
`alice` administers, `bob` develops, `carol` operates; a partner's `dave` works in `proj-dev`
through the agency session `ops-agency/dave`; auto scaling acts as a system principal. On the
evening of 5 June `mallory`, who so far had only listed servers from 198.51.100.40, fails a login
from 203.0.113.66, logs in, creates an access key, joins a group, deletes a server and its volume
in `proj-prod` and makes a backup of the orders database in `proj-data`. Many questions below
point at that evening from another side.
";

/// The whole playbook page (`docs/queries.md` in the repository): the introduction, a table of contents,
/// then every question with its parameters, Cypher and sample (when given).
pub fn markdown(samples: &[Sample]) -> String {
    let mut out = String::from(INTRO);
    out.push_str("\n## Questions\n\n| question | asks |\n|---|---|\n");
    for q in QUESTIONS {
        out.push_str(&format!("| [`{}`](#{}) | {} |\n", q.name, q.name, q.title));
    }
    let mut section = "";
    for q in QUESTIONS {
        if q.section != section {
            section = q.section;
            out.push_str(&format!("\n## {section}\n"));
        }
        out.push_str(&question(q, samples.iter().find(|s| s.question == q.name)));
    }
    out.push_str(PICTURES);
    out
}

fn question(q: &Question, sample: Option<&Sample>) -> String {
    let mut out = format!(
        "\n<a id=\"{}\"></a>\n### `{}`: {}\n\n{}\n\n",
        q.name, q.name, q.title, q.description
    );
    out.push_str("| parameter | type | default | meaning |\n|---|---|---|---|\n");
    for p in q.params {
        let default = match (p.required, p.default, p.kind) {
            (true, _, _) => "required".to_owned(),
            (false, Some(d), _) => format!("`{d}`"),
            (false, None, ParamKind::TextList) => "all".to_owned(),
            (false, None, _) => "none".to_owned(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            p.name,
            p.kind.label(),
            default,
            p.description.replace('|', "\\|")
        ));
    }
    out.push_str(&format!("\n```cypher\n{}\n```\n", q.cypher.trim_end()));
    if let Some(s) = sample {
        let mut command = format!("neo4j-sink query {}", q.name);
        for p in q.params {
            for value in s.args.get(p.name).unwrap_or_default() {
                command.push_str(&format!(" --param {}={}", p.name, shell_word(value)));
            }
        }
        out.push_str(&format!(
            "\nSample (`{command}`):\n\n{}",
            s.table.to_markdown()
        ));
        if s.table.rows.is_empty() {
            out.push_str("\n(no rows)\n");
        }
    }
    out
}

/// Quotes a value for a POSIX shell when it needs it.
fn shell_word(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/+@=".contains(c));
    if plain {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

const PICTURES: &str = "
## Pictures

`scripts/render-graph-images` draws these from real answers: it starts a `neo4j-sink`, posts the
sample traces to it as one CloudEvents batch (project ids `proj-prod`, `proj-dev`, `proj-data`),
asks the questions with `neo4j-sink query … --format json` and renders the rows with matplotlib and
networkx, which it installs from PyPI into `.local/render-venv` (it says what is missing when it
cannot). It uses `NEO4J_URI`/`NEO4J_USER`/`NEO4J_PASSWORD`, or the local Neo4j of
`scripts/neo4j-local`. Colours follow `docs/neo4j-browser.grass`, a style file for Neo4j Browser
(drag it onto the Browser window, or run `:style` and paste it) that colours and captions every
node type the same way.

The life of server `ecs-0001` (`resource-life`): who created, read, changed, failed to resize and
finally deleted it, from which IPs.

![life of a resource](images/resource-life.svg)

The blast radius of `mallory` (`blast-radius-resources`): every resource touched, by project and
type.

![blast radius of a user](images/blast-radius.svg)

The graph around the latest actions of the three sample projects (`project-graph`).

![graph overview](images/graph-overview.png)
";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_question_has_an_anchor_and_its_full_cypher() {
        let page = markdown(&[]);
        for q in QUESTIONS {
            assert!(page.contains(&format!("<a id=\"{}\"></a>", q.name)));
            assert!(page.contains(q.cypher.trim_end()), "{}", q.name);
        }
    }

    #[test]
    fn samples_show_the_command_and_the_table() {
        let sample = Sample {
            question: "user-activity".into(),
            args: Args::new().with("user", "o'brien").with("projects", "p1"),
            table: Table {
                columns: vec!["time".into()],
                rows: vec![vec![json!("2024-06-03T09:00:00Z")]],
            },
        };
        let page = markdown(&[sample]);
        assert!(
            page.contains(
                "Sample (`neo4j-sink query user-activity --param user='o'\\''brien' --param projects=p1`)"
            ),
            "{page}"
        );
        assert!(page.contains("| 2024-06-03T09:00:00Z |"));
    }
}
