//! Questions about people: what one user did and touched, what they did for
//! the first time, who is new, who spans projects, who acted via an agency.

use super::{Param, ParamKind, Question, FROM, PROJECTS, SINCE, TO, USER, USER_FILTER};

const SECTION: &str = "Users";

pub(crate) const USER_ACTIVITY: Question = Question {
    name: "user-activity",
    section: SECTION,
    title: "What did a user do in a time range?",
    description: "Every action the user performed, or that an agency session performed on the \
        user's behalf (then `via` names the session), oldest first, with project, service, \
        operation, resource, channel, source IP and outcome.",
    cypher: cypher!(
        "MATCH (u:User)<-[rel:PERFORMED_BY|ASSUMED_BY]-(a:Action)",
        concat!(
            concat!(
                "WHERE (",
                has_value!("u.name", "$user"),
                " OR ",
                has_value!("u.id", "$user"),
                ") AND "
            ),
            in_projects!("a"),
            " AND ",
            in_window!("a")
        ),
        "RETURN toString(a.time) AS time, a.projectId AS project, a.service AS service,",
        concat!(
            "       ",
            op!("a"),
            " AS operation, coalesce(a.resourceName, a.resourceId) AS resource,"
        ),
        "       a.channel AS channel, a.sourceIp AS sourceIp, a.status AS status,",
        "       CASE type(rel) WHEN 'ASSUMED_BY' THEN a.userName END AS via",
        "ORDER BY a.time, a.traceId",
    ),
    params: &[USER, PROJECTS, FROM, TO],
    columns: &[
        "time",
        "project",
        "service",
        "operation",
        "resource",
        "channel",
        "sourceIp",
        "status",
        "via",
    ],
};

pub(crate) const BLAST_RADIUS: Question = Question {
    name: "blast-radius",
    section: SECTION,
    title:
        "What is the blast radius of a user: which resources, of which types, in which projects?",
    description: "Everything the user (directly or through an agency) acted on, one row per \
        project, service and resource type: how many distinct resources, how many of them the \
        user changed successfully (anything but a read), how many actions, and the resources' \
        names. Start here when an account is compromised.",
    cypher: cypher!(
        "MATCH (u:User)<-[:PERFORMED_BY|ASSUMED_BY]-(a:Action)-[:APPLIED_ON]->(r:Resource)",
        concat!(
            concat!(
                "WHERE (",
                has_value!("u.name", "$user"),
                " OR ",
                has_value!("u.id", "$user"),
                ") AND "
            ),
            in_projects!("a"),
            " AND ",
            in_window!("a")
        ),
        "WITH r, collect(a) AS acts",
        concat!(
            "WITH r, size(acts) AS n, any(x IN acts WHERE NOT x.failed AND NOT ",
            is_read!("x"),
            ") AS changed"
        ),
        "ORDER BY coalesce(r.nameFull, r.name, r.idFull, r.id), r.key",
        "RETURN r.projectId AS project, r.service AS service, r.type AS resourceType,",
        "       count(r) AS resources, sum(CASE WHEN changed THEN 1 ELSE 0 END) AS changed,",
        "       sum(n) AS actions, collect(coalesce(r.nameFull, r.name, r.idFull, r.id)) AS names",
        "ORDER BY project, service, resourceType",
    ),
    params: &[USER, PROJECTS, FROM, TO],
    columns: &[
        "project",
        "service",
        "resourceType",
        "resources",
        "changed",
        "actions",
        "names",
    ],
};

pub(crate) const BLAST_RADIUS_RESOURCES: Question = Question {
    name: "blast-radius-resources",
    section: SECTION,
    title: "Which individual resources did a user touch, and how?",
    description: "The detail behind `blast-radius`: one row per resource, with the distinct \
        operations the user ran on it in the order first used, and the first and last time.",
    cypher: cypher!(
        "MATCH (u:User)<-[:PERFORMED_BY|ASSUMED_BY]-(a:Action)-[:APPLIED_ON]->(r:Resource)",
        concat!(
            concat!(
                "WHERE (",
                has_value!("u.name", "$user"),
                " OR ",
                has_value!("u.id", "$user"),
                ") AND "
            ),
            in_projects!("a"),
            " AND ",
            in_window!("a")
        ),
        "WITH r, a ORDER BY a.time, a.traceId",
        concat!(
            "WITH r, collect(",
            op!("a"),
            ") AS names, min(a.time) AS first, max(a.time) AS last"
        ),
        "RETURN r.projectId AS project, r.service AS service, r.type AS resourceType,",
        concat!(
            "       ",
            full!("r.id"),
            " AS resourceId, ",
            full!("r.name"),
            " AS resource,"
        ),
        "       reduce(s = [], o IN names | CASE WHEN o IN s THEN s ELSE s + o END) AS operations,",
        "       toString(first) AS first, toString(last) AS last",
        "ORDER BY project, service, resourceType, first, r.key",
    ),
    params: &[USER, PROJECTS, FROM, TO],
    columns: &[
        "project",
        "service",
        "resourceType",
        "resourceId",
        "resource",
        "operations",
        "first",
        "last",
    ],
};

pub(crate) const FIRST_TIME_OPERATIONS: Question = Question {
    name: "first-time-operations",
    section: SECTION,
    title: "Which operations did a user perform for the first time since a date?",
    description: "For each user (or the one given), the operations (per service) whose first \
        occurrence is at or after `since`, with how often they ran. `activeSince` is the user's \
        first action at all: when it is before `since`, the operation is new for a known user, \
        the interesting case (a developer who suddenly creates access keys).",
    cypher: cypher!(
        "MATCH (u:User {kind: 'user'})<-[:PERFORMED_BY]-(a:Action)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND ($user IS NULL OR ",
            has_value!("u.name", "$user"),
            " OR ",
            has_value!("u.id", "$user"),
            ")"
        ),
        "WITH u, min(a.time) AS activeSince, collect(a) AS acts",
        "UNWIND acts AS a",
        concat!(
            "WITH u, activeSince, a.service AS service, ",
            op!("a"),
            " AS operation,"
        ),
        "     min(a.time) AS first, count(*) AS times",
        "WHERE first >= datetime($since)",
        concat!(
            "RETURN ",
            who!("u"),
            " AS user, service, operation, toString(first) AS first, times,"
        ),
        "       toString(activeSince) AS activeSince",
        "ORDER BY first, user, service, operation",
    ),
    params: &[SINCE, USER_FILTER, PROJECTS],
    columns: &[
        "user",
        "service",
        "operation",
        "first",
        "times",
        "activeSince",
    ],
};

pub(crate) const NEW_USERS: Question = Question {
    name: "new-users",
    section: SECTION,
    title: "Which users (or system principals) acted for the first time since a date?",
    description: "Principals whose first action in the selected projects is at or after \
        `since`: their first operation, project and source IP, and how many actions followed. \
        `kind` is `system` for a cloud service acting on its own.",
    cypher: cypher!(
        "MATCH (u:User)<-[:PERFORMED_BY]-(a:Action)",
        concat!("WHERE ", in_projects!("a")),
        "WITH u, a ORDER BY a.time, a.traceId",
        "WITH u, collect(a) AS acts",
        "WITH u, acts[0] AS f, size(acts) AS actions",
        "WHERE f.time >= datetime($since)",
        concat!("RETURN ", who!("u"), " AS user, u.kind AS kind,"),
        concat!(
            "       toString(f.time) AS first, f.projectId AS project, ",
            op!("f"),
            " AS firstOperation,"
        ),
        "       f.sourceIp AS sourceIp, actions",
        "ORDER BY f.time, user",
    ),
    params: &[SINCE, PROJECTS],
    columns: &[
        "user",
        "kind",
        "first",
        "project",
        "firstOperation",
        "sourceIp",
        "actions",
    ],
};

pub(crate) const MULTI_PROJECT_USERS: Question = Question {
    name: "multi-project-users",
    section: SECTION,
    title: "Which users are active in several projects?",
    description: "People (not system principals) with actions in at least `minProjects` of the \
        selected projects, directly or through an agency: the projects and the number of actions. \
        Few people need to work across production, development and data projects.",
    cypher: cypher!(
        "MATCH (u:User {kind: 'user'})<-[:PERFORMED_BY|ASSUMED_BY]-(a:Action)",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "WITH u, a.projectId AS project, count(*) AS n ORDER BY project",
        "WITH u, collect(project) AS ps, sum(n) AS actions",
        "WHERE size(ps) >= $minProjects",
        concat!(
            "RETURN ",
            who!("u"),
            " AS user, size(ps) AS projectCount, ps AS projects, actions"
        ),
        "ORDER BY projectCount DESC, actions DESC, user",
    ),
    params: &[
        PROJECTS,
        FROM,
        TO,
        Param {
            name: "minProjects",
            kind: ParamKind::Integer,
            required: false,
            default: Some("2"),
            description: "Fewest projects a user must be active in to be listed.",
        },
    ],
    columns: &["user", "projectCount", "projects", "actions"],
};

pub(crate) const AGENCY_ACTIONS: Question = Question {
    name: "agency-actions",
    section: SECTION,
    title: "Who acted through an agency (on behalf of a user of another account)?",
    description: "Actions whose trace names a real user behind an agency session (`ASSUMED_BY`): \
        the real user and their domain, the agency session, the project, how many actions and \
        which operations, first and last time. This is how a partner's or a managed-service \
        provider's work is traced back to a person.",
    cypher: cypher!(
        "MATCH (session:User)<-[:PERFORMED_BY]-(a:Action)-[:ASSUMED_BY]->(real:User)",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "WITH real, session, a ORDER BY a.time, a.traceId",
        "WITH real, session, a.projectId AS project, count(a) AS actions,",
        concat!(
            "     collect(DISTINCT ",
            op!("a"),
            ") AS operations, min(a.time) AS first, max(a.time) AS last"
        ),
        concat!(
            "RETURN ",
            full!("real.name"),
            " AS user, real.domainName AS userDomain, ",
            full!("session.name"),
            " AS agencySession,"
        ),
        "       project, actions, operations, toString(first) AS first, toString(last) AS last",
        "ORDER BY user, userDomain, agencySession, project",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &[
        "user",
        "userDomain",
        "agencySession",
        "project",
        "actions",
        "operations",
        "first",
        "last",
    ],
};
