//! Questions about activity as a whole: console versus API versus system,
//! work outside working hours, the busiest users and services, activity per
//! day, and the graph around a project's actions (for pictures and export).

use super::{Param, ParamKind, Question, FROM, PROJECTS, TO};

const SECTION: &str = "Activity";

const LIMIT: Param = Param {
    name: "limit",
    kind: ParamKind::Integer,
    required: false,
    default: Some("5"),
    description: "How many to list per project and region.",
};

pub(crate) const CHANNEL_MIX: Question = Question {
    name: "channel-mix",
    section: SECTION,
    title: "How much activity came from the console, the API and the cloud itself?",
    description: "Actions per project and channel (`console` = a person in the web console, \
        `api` = a program or CLI with a token or access key, `system` = the cloud acting on its \
        own, `other`/`unknown` = an undocumented or missing trace type), with the number of \
        distinct principals and of failed actions.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "RETURN a.projectId AS project, a.channel AS channel, count(a) AS actions,",
        "       count(DISTINCT u) AS users, sum(CASE WHEN a.failed THEN 1 ELSE 0 END) AS failed",
        "ORDER BY project, actions DESC, channel",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &["project", "channel", "actions", "users", "failed"],
};

pub(crate) const CHANNEL_BY_USER: Question =
    Question {
        name: "channel-by-user",
        section: SECTION,
        title: "Which users work through the console, which through the API?",
        description: "One row per principal with the number of console, API, system and other \
        actions. A person who normally uses the console and suddenly makes API calls may have \
        had an access key stolen.",
        cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "WITH u, sum(CASE a.channel WHEN 'console' THEN 1 ELSE 0 END) AS console,",
        "     sum(CASE a.channel WHEN 'api' THEN 1 ELSE 0 END) AS api,",
        "     sum(CASE a.channel WHEN 'system' THEN 1 ELSE 0 END) AS system,",
        "     sum(CASE WHEN a.channel IN ['console', 'api', 'system'] THEN 0 ELSE 1 END) AS other,",
        "     count(a) AS total",
        concat!("RETURN ", who!("u"), " AS user, console, api, system, other, total"),
        "ORDER BY total DESC, user",
    ),
        params: &[PROJECTS, FROM, TO],
        columns: &["user", "console", "api", "system", "other", "total"],
    };

pub(crate) const OFF_HOURS: Question = Question {
    name: "off-hours",
    section: SECTION,
    title: "What did people do outside working hours?",
    description: "Actions of people (not system principals) before `workStart`, at or after \
        `workEnd`, or on a Saturday or Sunday, in the given time zone: the local time and weekday, \
        user, project, operation, resource and source IP, oldest first.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User {kind: 'user'})",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "WITH a, u, datetime({datetime: a.time, timezone: $timezone}) AS local",
        "WHERE local.hour < $workStart OR local.hour >= $workEnd OR local.dayOfWeek >= 6",
        "RETURN toString(localdatetime({datetime: local})) AS localTime,",
        "       ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][local.dayOfWeek - 1] AS day,",
        concat!(
            "       ",
            who!("u"),
            " AS user, a.projectId AS project, ",
            op!("a"),
            " AS operation,"
        ),
        "       coalesce(a.resourceName, a.resourceId) AS resource, a.sourceIp AS sourceIp",
        "ORDER BY a.time, a.traceId",
    ),
    params: &[
        PROJECTS,
        FROM,
        TO,
        Param {
            name: "workStart",
            kind: ParamKind::Integer,
            required: false,
            default: Some("8"),
            description: "First working hour (0-23), local time.",
        },
        Param {
            name: "workEnd",
            kind: ParamKind::Integer,
            required: false,
            default: Some("18"),
            description: "Hour (0-24) at which work ends, local time.",
        },
        Param {
            name: "timezone",
            kind: ParamKind::Text,
            required: false,
            default: Some("UTC"),
            description: "Time zone of the working hours, e.g. `Europe/Berlin` or `+01:00`.",
        },
    ],
    columns: &[
        "localTime",
        "day",
        "user",
        "project",
        "operation",
        "resource",
        "sourceIp",
    ],
};

pub(crate) const TOP_USERS: Question = Question {
    name: "top-users",
    section: SECTION,
    title: "Who are the most active users per project and region?",
    description: "The `limit` principals with the most actions in each project and region, \
        ranked, with how many of their actions failed.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "WITH a.projectId AS project, a.region AS region, u,",
        "     count(a) AS actions, sum(CASE WHEN a.failed THEN 1 ELSE 0 END) AS failed",
        concat!("WITH project, region, ", who!("u"), " AS user, actions, failed"),
        "ORDER BY project, region, actions DESC, user",
        "WITH project, region, collect({user: user, actions: actions, failed: failed}) AS ranked",
        "UNWIND range(1, size(ranked)) AS rank",
        "WITH project, region, rank, ranked[rank - 1] AS top WHERE rank <= $limit",
        "RETURN project, region, rank, top.user AS user, top.actions AS actions, top.failed AS failed",
        "ORDER BY project, region, rank",
    ),
    params: &[PROJECTS, FROM, TO, LIMIT],
    columns: &["project", "region", "rank", "user", "actions", "failed"],
};

pub(crate) const TOP_SERVICES: Question = Question {
    name: "top-services",
    section: SECTION,
    title: "Which services are the most active per project and region?",
    description: "The `limit` services with the most actions in each project and region, \
        ranked, with the number of distinct principals and of failed actions.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "WITH a.projectId AS project, a.region AS region, coalesce(a.service, '') AS service,",
        "     count(a) AS actions, count(DISTINCT u) AS users,",
        "     sum(CASE WHEN a.failed THEN 1 ELSE 0 END) AS failed",
        "ORDER BY project, region, actions DESC, service",
        "WITH project, region,",
        "     collect({service: service, actions: actions, users: users, failed: failed}) AS ranked",
        "UNWIND range(1, size(ranked)) AS rank",
        "WITH project, region, rank, ranked[rank - 1] AS top WHERE rank <= $limit",
        "RETURN project, region, rank, top.service AS service, top.actions AS actions,",
        "       top.users AS users, top.failed AS failed",
        "ORDER BY project, region, rank",
    ),
    params: &[PROJECTS, FROM, TO, LIMIT],
    columns: &[
        "project", "region", "rank", "service", "actions", "users", "failed",
    ],
};

pub(crate) const DAILY_ACTIVITY: Question = Question {
    name: "daily-activity",
    section: SECTION,
    title: "How much happened per day and project?",
    description: "Actions per UTC day and project, with distinct principals, failed actions and \
        changes (anything but reads). A day that stands out is where to look first.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "RETURN toString(date(a.time)) AS day, a.projectId AS project, count(a) AS actions,",
        "       count(DISTINCT u) AS users, sum(CASE WHEN a.failed THEN 1 ELSE 0 END) AS failed,",
        concat!(
            "       sum(CASE WHEN ",
            is_read!("a"),
            " THEN 0 ELSE 1 END) AS changes"
        ),
        "ORDER BY day, project",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &["day", "project", "actions", "users", "failed", "changes"],
};

/// The key property of any node of the model, whatever its label.
macro_rules! node_key {
    ($n:literal) => {
        concat!(
            "coalesce(",
            $n,
            ".traceId, ",
            $n,
            ".key, ",
            $n,
            ".projectId, ",
            $n,
            ".address, ",
            $n,
            ".id, ",
            $n,
            ".name)"
        )
    };
}

/// A short caption for any node: the operation of an action, a user as `who!`, else a name.
macro_rules! node_caption {
    ($n:literal) => {
        concat!(
            "CASE WHEN ",
            $n,
            ":Action THEN ",
            $n,
            ".name WHEN ",
            $n,
            ":Tenant THEN ",
            $n,
            ".projectId WHEN ",
            $n,
            ":IpAddress THEN ",
            $n,
            ".address WHEN ",
            $n,
            ":User THEN ",
            who!($n),
            " ELSE coalesce(",
            $n,
            ".name, ",
            $n,
            ".id, ",
            $n,
            ".key) END"
        )
    };
}

pub(crate) const PROJECT_GRAPH: Question = Question {
    name: "project-graph",
    section: SECTION,
    title: "What does the graph around a project's latest actions look like?",
    description: "Every relationship within three hops of the `limit` latest actions (action to \
        user, resource, status, service and IP; resource to project; project to region and \
        domain; user to domain) as `from -[relationship]-> to` rows with each node's label, key \
        and caption. Use it to draw the graph (docs/images/graph-overview.png is made from it) or \
        to export a neighbourhood.",
    cypher: cypher!(
        "MATCH (a:Action)",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "WITH a ORDER BY a.time DESC, a.traceId LIMIT $limit",
        "MATCH p = (a)-[*1..3]->()",
        "UNWIND relationships(p) AS rel",
        "WITH DISTINCT rel",
        "WITH startNode(rel) AS s, type(rel) AS relationship, endNode(rel) AS e",
        concat!(
            "RETURN labels(s)[0] AS fromLabel, ",
            node_key!("s"),
            " AS fromKey, ",
            node_caption!("s"),
            " AS from,"
        ),
        concat!(
            "       relationship, labels(e)[0] AS toLabel, ",
            node_key!("e"),
            " AS toKey, ",
            node_caption!("e"),
            " AS to"
        ),
        "ORDER BY relationship, fromKey, toKey",
    ),
    params: &[
        PROJECTS,
        FROM,
        TO,
        Param {
            name: "limit",
            kind: ParamKind::Integer,
            required: false,
            default: Some("100"),
            description: "How many of the latest actions to start from.",
        },
    ],
    columns: &[
        "fromLabel",
        "fromKey",
        "from",
        "relationship",
        "toLabel",
        "toKey",
        "to",
    ],
};
