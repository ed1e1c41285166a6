//! Questions about identity and access: changes to users, credentials,
//! access keys, groups, roles, policies and agencies, and console logins.

use super::{Param, ParamKind, Question, FROM, PROJECTS, TO};

const SECTION: &str = "Identity and access (IAM)";

/// Sorts an IAM action `a` into what it changed, by operation name and resource type.
macro_rules! iam_category {
    () => {
        concat!(
            "CASE\n",
            "         WHEN n CONTAINS 'accesskey' OR n CONTAINS 'credential' OR t IN ['credential', 'accesskey', 'access_key'] THEN 'access-key'\n",
            "         WHEN n CONTAINS 'password' OR n CONTAINS 'mfa' OR n CONTAINS 'loginprotect' THEN 'password'\n",
            "         WHEN n CONTAINS 'policy' OR t = 'policy' THEN 'policy'\n",
            "         WHEN n CONTAINS 'role' OR t = 'role' THEN 'role'\n",
            "         WHEN n CONTAINS 'agency' OR t = 'agency' THEN 'agency'\n",
            "         WHEN n CONTAINS 'group' OR t = 'group' THEN 'group'\n",
            "         WHEN n CONTAINS 'user' OR t = 'user' THEN 'user'\n",
            "         WHEN n CONTAINS 'project' OR t = 'project' THEN 'project'\n",
            "         ELSE 'other' END"
        )
    };
}

/// The IAM actions that change something (no reads, no logins), with `n`
/// (lower-case operation) and `t` (lower-case resource type) for the category.
macro_rules! iam_changes {
    () => {
        concat!(
            "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)\n",
            "WHERE ",
            in_projects!("a"),
            " AND ",
            in_window!("a"),
            " AND a.service = 'IAM'\n",
            "  AND NOT ",
            is_read!("a"),
            " AND NOT ",
            op!("a"),
            " =~ '(?i).*(login|logout)'\n",
            "WITH a, u, toLower(",
            op!("a"),
            ") AS n, toLower(coalesce(a.resourceType, '')) AS t\n",
            "WITH a, u, ",
            iam_category!(),
            " AS category\n",
            "WHERE $category IS NULL OR category = $category\n",
        )
    };
}

const CATEGORY: Param = Param {
    name: "category",
    kind: ParamKind::Text,
    required: false,
    default: None,
    description: "Only this kind of change: `user`, `password`, `access-key`, `group`, `role`, \
                  `policy`, `agency`, `project` or `other`; none means all.",
};

pub(crate) const IAM_CHANGES: Question = Question {
    name: "iam-changes",
    section: SECTION,
    title: "Which IAM changes (users, passwords, access keys, groups, roles, policies) were made, and by whom?",
    description: "Every IAM action that is neither a read nor a login, oldest first. `category` \
        says what it changed (from the operation name and resource type), `target` what it was \
        applied to. Refused attempts are included with their `status` and `code`: somebody \
        trying to create an access key matters even when it failed.",
    cypher: concat!(
        iam_changes!(),
        cypher!(
            concat!(
                "RETURN toString(a.time) AS time, ",
                who!("u"),
                " AS user, category, ",
                op!("a"),
                " AS operation,"
            ),
            "       coalesce(a.resourceName, a.resourceId) AS target, a.status AS status, a.code AS code,",
            "       a.sourceIp AS sourceIp, a.projectId AS project",
            "ORDER BY a.time, a.traceId",
        )
    ),
    params: &[PROJECTS, FROM, TO, CATEGORY],
    columns: &[
        "time",
        "user",
        "category",
        "operation",
        "target",
        "status",
        "code",
        "sourceIp",
        "project",
    ],
};

pub(crate) const IAM_CHANGES_BY_USER: Question = Question {
    name: "iam-changes-by-user",
    section: SECTION,
    title: "Who makes IAM changes, and of which kind?",
    description: "The summary of `iam-changes`: one row per user and category with the number of \
        changes, how many failed, the operations and the last time. Outside the few \
        administrators, every row here is worth a question.",
    cypher: concat!(
        iam_changes!(),
        cypher!(
            "WITH u, category, a ORDER BY a.time, a.traceId",
            "WITH u, category, count(a) AS changes, sum(CASE WHEN a.failed THEN 1 ELSE 0 END) AS failed,",
            concat!("     collect(DISTINCT ", op!("a"), ") AS operations, max(a.time) AS last"),
            concat!("RETURN ", who!("u"), " AS user, category, changes, failed, operations,"),
            "       toString(last) AS last",
            "ORDER BY user, category",
        )
    ),
    params: &[PROJECTS, FROM, TO, CATEGORY],
    columns: &[
        "user",
        "category",
        "changes",
        "failed",
        "operations",
        "last",
    ],
};

pub(crate) const LOGINS: Question = Question {
    name: "logins",
    section: SECTION,
    title: "Who logged in, how often did it fail, and from which IPs?",
    description: "Console and federation logins (IAM operations ending in `login`), one row per \
        user: successful and failed logins, the source IPs in order of first use, and the first \
        and last login.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND ",
            in_window!("a"),
            " AND a.service = 'IAM' AND ",
            op!("a"),
            " =~ '(?i).*login'"
        ),
        "WITH u, a ORDER BY a.time, a.traceId",
        "WITH u, sum(CASE WHEN a.failed THEN 0 ELSE 1 END) AS logins,",
        "     sum(CASE WHEN a.failed THEN 1 ELSE 0 END) AS failed,",
        "     collect(DISTINCT a.sourceIp) AS sourceIps, min(a.time) AS first, max(a.time) AS last",
        concat!("RETURN ", who!("u"), " AS user, logins, failed, sourceIps,"),
        "       toString(first) AS first, toString(last) AS last",
        "ORDER BY user, first",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &["user", "logins", "failed", "sourceIps", "first", "last"],
};
