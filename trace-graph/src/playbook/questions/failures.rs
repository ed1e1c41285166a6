//! Questions about what went wrong: failed (warning) and incident actions by
//! service and by user, the flagged actions themselves, refused calls, and
//! failures followed by a success (retries, guessing).

use super::{Param, ParamKind, Question, FROM, PROJECTS, TO};

const SECTION: &str = "Failures";

pub(crate) const FAILURES_BY_SERVICE: Question = Question {
    name: "failures-by-service",
    section: SECTION,
    title: "Which services had failed (warning) and incident actions?",
    description: "One row per service with failed actions: `warnings` and `incidents` count the \
        CTS ratings, `httpErrors` the actions CTS rated `normal` although the call returned an \
        HTTP code of 400 or more; `failed` is the total, `users` how many principals were \
        involved. Most failures first.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND ",
            in_window!("a"),
            " AND a.failed"
        ),
        "RETURN coalesce(a.service, '') AS service,",
        "       sum(CASE a.status WHEN 'warning' THEN 1 ELSE 0 END) AS warnings,",
        "       sum(CASE a.status WHEN 'incident' THEN 1 ELSE 0 END) AS incidents,",
        "       sum(CASE WHEN a.status IN ['warning', 'incident'] THEN 0 ELSE 1 END) AS httpErrors,",
        "       count(a) AS failed, count(DISTINCT u) AS users",
        "ORDER BY failed DESC, service",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &[
        "service",
        "warnings",
        "incidents",
        "httpErrors",
        "failed",
        "users",
    ],
};

pub(crate) const FAILURES_BY_USER: Question = Question {
    name: "failures-by-user",
    section: SECTION,
    title: "Which users had failed (warning) and incident actions?",
    description: "One row per principal with failed actions: warnings, incidents, other HTTP \
        errors, the total and the services concerned. A user with many failures across services \
        is probing, misconfigured automation or a broken deployment.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND ",
            in_window!("a"),
            " AND a.failed"
        ),
        "WITH u, a ORDER BY a.service",
        "WITH u, sum(CASE a.status WHEN 'warning' THEN 1 ELSE 0 END) AS warnings,",
        "     sum(CASE a.status WHEN 'incident' THEN 1 ELSE 0 END) AS incidents,",
        "     sum(CASE WHEN a.status IN ['warning', 'incident'] THEN 0 ELSE 1 END) AS httpErrors,",
        "     count(a) AS failed, collect(DISTINCT a.service) AS services",
        concat!(
            "RETURN ",
            who!("u"),
            " AS user, warnings, incidents, httpErrors, failed, services"
        ),
        "ORDER BY failed DESC, user",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &[
        "user",
        "warnings",
        "incidents",
        "httpErrors",
        "failed",
        "services",
    ],
};

pub(crate) const FLAGGED_ACTIONS: Question = Question {
    name: "flagged-actions",
    section: SECTION,
    title: "Which actions were rated incident (or warning), in detail?",
    description: "The actions whose CTS rating is one of `statuses` (default: `incident`), newest \
        first, with everything needed to follow up: project, service, operation, resource, user, \
        HTTP code, source IP and request id.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND ",
            in_window!("a"),
            " AND a.status IN $statuses"
        ),
        "RETURN toString(a.time) AS time, a.status AS status, a.projectId AS project,",
        concat!("       a.service AS service, ", op!("a"), " AS operation,"),
        "       coalesce(a.resourceName, a.resourceId) AS resource,",
        concat!(
            "       ",
            who!("u"),
            " AS user, a.code AS code, a.sourceIp AS sourceIp, ",
            full!("a.requestId"),
            " AS requestId"
        ),
        "ORDER BY a.time DESC, a.traceId",
    ),
    params: &[
        PROJECTS,
        FROM,
        TO,
        Param {
            name: "statuses",
            kind: ParamKind::TextList,
            required: false,
            default: Some("incident"),
            description: "Ratings to list, e.g. `incident` or `warning,incident`.",
        },
    ],
    columns: &[
        "time",
        "status",
        "project",
        "service",
        "operation",
        "resource",
        "user",
        "code",
        "sourceIp",
        "requestId",
    ],
};

pub(crate) const ACCESS_DENIED: Question = Question {
    name: "access-denied",
    section: SECTION,
    title: "Who was refused (HTTP 401 or 403), and from where?",
    description: "Calls the cloud refused for missing authentication or permission, grouped by \
        user and source IP: how many, which operations, first and last time. Repeated refusals \
        from one IP are password guessing or a stolen key trying what it may do.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND ",
            in_window!("a"),
            " AND a.code IN ['401', '403']"
        ),
        "WITH u, a.sourceIp AS sourceIp, a ORDER BY a.time, a.traceId",
        concat!(
            "WITH u, sourceIp, count(a) AS refused, collect(DISTINCT ",
            op!("a"),
            ") AS operations,"
        ),
        "     collect(DISTINCT a.code) AS codes, min(a.time) AS first, max(a.time) AS last",
        concat!(
            "RETURN ",
            who!("u"),
            " AS user, sourceIp, refused, operations, codes,"
        ),
        "       toString(first) AS first, toString(last) AS last",
        "ORDER BY refused DESC, user, sourceIp",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &[
        "user",
        "sourceIp",
        "refused",
        "operations",
        "codes",
        "first",
        "last",
    ],
};

pub(crate) const FAILED_THEN_SUCCEEDED: Question = Question {
    name: "failed-then-succeeded",
    section: SECTION,
    title: "Which operations failed and then succeeded for the same user and resource?",
    description: "Each failed action followed, later, by a successful action with the same \
        operation, user, project and resource: when it failed (with which code) and when it first \
        worked. A failed login followed by a successful one from a new IP, or a refused deletion \
        that later goes through, deserves a look.",
    cypher: cypher!(
        "MATCH (f:Action)-[:PERFORMED_BY]->(u:User)",
        concat!(
            "WHERE ",
            in_projects!("f"),
            " AND ",
            in_window!("f"),
            " AND f.failed"
        ),
        "MATCH (s:Action)-[:PERFORMED_BY]->(u)",
        concat!("WHERE s.projectId = f.projectId AND ", op!("s"), " = ", op!("f"), " AND NOT s.failed AND s.time > f.time"),
        "  AND coalesce(s.resourceId, s.resourceName, '') = coalesce(f.resourceId, f.resourceName, '')",
        "WITH u, f, min(s.time) AS succeeded",
        concat!(
            "RETURN ",
            who!("u"),
            " AS user, f.projectId AS project, ",
            op!("f"),
            " AS operation,"
        ),
        "       coalesce(f.resourceName, f.resourceId) AS resource, toString(f.time) AS failedAt,",
        "       f.code AS code, f.sourceIp AS failedFrom, toString(succeeded) AS succeededAt",
        "ORDER BY f.time, f.traceId",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &[
        "user",
        "project",
        "operation",
        "resource",
        "failedAt",
        "code",
        "failedFrom",
        "succeededAt",
    ],
};
