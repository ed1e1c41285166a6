//! Questions about one resource or about resources in general: find it, who
//! changed or deleted it, its whole life, and resources that lived briefly.

use super::{Param, ParamKind, Question, FROM, PROJECTS, RESOURCE, TO};

const SECTION: &str = "Resources";

pub(crate) const RESOURCE_LOOKUP: Question = Question {
    name: "resource-lookup",
    section: SECTION,
    title: "Which resources match an id or a name, and how busy were they?",
    description: "The starting point when someone names a resource: one row per `Resource` node \
        whose id equals the text or whose name contains it (ignoring case), with its project, \
        service and type, how many actions touched it, when the first and the last happened, and \
        the last operation. Two rows with the same name are two resources (another project, type \
        or id); use the `resourceId` in the questions below.",
    cypher: cypher!(
        "MATCH (r:Resource)",
        concat!(
            "WHERE (",
            has_value!("r.id", "$resource"),
            " OR toLower(",
            full!("r.name"),
            ") CONTAINS toLower($resource))"
        ),
        concat!("  AND ", in_projects!("r")),
        "MATCH (r)<-[:APPLIED_ON]-(a:Action)",
        "WITH r, a ORDER BY a.time, a.traceId",
        "WITH r, count(a) AS actions, min(a.time) AS first, max(a.time) AS last,",
        concat!("     collect(", op!("a"), ")[-1] AS lastOperation"),
        "RETURN r.projectId AS project, r.service AS service, r.type AS resourceType,",
        concat!(
            "       ",
            full!("r.id"),
            " AS resourceId, ",
            full!("r.name"),
            " AS resource, actions,"
        ),
        "       toString(first) AS first, toString(last) AS last, lastOperation",
        "ORDER BY project, service, resourceType, resource, resourceId",
    ),
    params: &[RESOURCE, PROJECTS],
    columns: &[
        "project",
        "service",
        "resourceType",
        "resourceId",
        "resource",
        "actions",
        "first",
        "last",
        "lastOperation",
    ],
};

pub(crate) const RESOURCE_CHANGES: Question = Question {
    name: "resource-changes",
    section: SECTION,
    title: "Who deleted or changed a resource, and when?",
    description: "Every action on the resource (by id or exact name) that was not a read, oldest \
        first: the operation, who did it (`onBehalfOf` is the real person when the user acted \
        through an agency), from which IP and channel, and whether it worked (`status`, HTTP \
        `code`). Failed attempts are listed too: an attempt to delete matters as much as a deletion.",
    cypher: cypher!(
        "MATCH (r:Resource)",
        concat!(
            "WHERE (", has_value!("r.id", "$resource"), " OR ", has_value!("r.name", "$resource"), ") AND ",
            in_projects!("r")
        ),
        "MATCH (r)<-[:APPLIED_ON]-(a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!("WHERE NOT ", is_read!("a"), " AND ", in_window!("a")),
        "OPTIONAL MATCH (a)-[:ASSUMED_BY]->(real:User)",
        concat!(
            "RETURN toString(a.time) AS time, ",
            op!("a"),
            " AS operation, ",
            who!("u"),
            " AS user,"
        ),
        concat!("       ", full!("real.name"), " AS onBehalfOf, a.channel AS channel, a.sourceIp AS sourceIp,"),
        "       a.status AS status, a.code AS code, r.type AS resourceType, r.projectId AS project",
        "ORDER BY a.time, a.traceId",
    ),
    params: &[RESOURCE, PROJECTS, FROM, TO],
    columns: &[
        "time",
        "operation",
        "user",
        "onBehalfOf",
        "channel",
        "sourceIp",
        "status",
        "code",
        "resourceType",
        "project",
    ],
};

pub(crate) const RESOURCE_LIFE: Question = Question {
    name: "resource-life",
    section: SECTION,
    title: "What happened to a resource from its creation to its deletion?",
    description: "The full history of the resource (by id or exact name), reads included, oldest \
        first. `phase` classifies the operation by its name: `created`, `changed`, `read` or \
        `deleted`; `failed` says whether it worked. `name` is the resource name the trace carried \
        at the time, so a rename shows up as a change of `name`.",
    cypher: cypher!(
        "MATCH (r:Resource)",
        concat!(
            "WHERE (",
            has_value!("r.id", "$resource"),
            " OR ",
            has_value!("r.name", "$resource"),
            ") AND ",
            in_projects!("r")
        ),
        "MATCH (r)<-[:APPLIED_ON]-(a:Action)-[:PERFORMED_BY]->(u:User)",
        "RETURN toString(a.time) AS time,",
        concat!("       CASE WHEN ", is_create!("a"), " THEN 'created'"),
        concat!("            WHEN ", is_delete!("a"), " THEN 'deleted'"),
        concat!("            WHEN ", is_read!("a"), " THEN 'read'"),
        "            ELSE 'changed' END AS phase,",
        concat!(
            "       ",
            op!("a"),
            " AS operation, ",
            who!("u"),
            " AS user, a.sourceIp AS sourceIp,"
        ),
        concat!(
            "       a.status AS status, a.failed AS failed, a.resourceName AS name, ",
            full!("r.key"),
            " AS resourceKey"
        ),
        "ORDER BY a.time, a.traceId",
    ),
    params: &[RESOURCE, PROJECTS],
    columns: &[
        "time",
        "phase",
        "operation",
        "user",
        "sourceIp",
        "status",
        "failed",
        "name",
        "resourceKey",
    ],
};

pub(crate) const RESOURCE_DELETIONS: Question = Question {
    name: "resource-deletions",
    section: SECTION,
    title: "Which resources were deleted in a time range, and by whom?",
    description: "Every delete-like operation (`delete…`, `remove…`, `release…`, `terminate…`) in \
        the window, oldest first, with the resource, the user, the source IP and the outcome. \
        A `status` other than `normal` means the deletion was attempted but may not have happened.",
    cypher: cypher!(
        "MATCH (a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND ",
            in_window!("a"),
            " AND ",
            is_delete!("a")
        ),
        "RETURN toString(a.time) AS time, a.projectId AS project, a.service AS service,",
        "       a.resourceType AS resourceType, a.resourceId AS resourceId, a.resourceName AS resource,",
        concat!(
            "       ",
            op!("a"),
            " AS operation, ",
            who!("u"),
            " AS user, a.sourceIp AS sourceIp, a.status AS status"
        ),
        "ORDER BY a.time, a.traceId",
    ),
    params: &[PROJECTS, FROM, TO],
    columns: &[
        "time",
        "project",
        "service",
        "resourceType",
        "resourceId",
        "resource",
        "operation",
        "user",
        "sourceIp",
        "status",
    ],
};

pub(crate) const SHORT_LIVED_RESOURCES: Question = Question {
    name: "short-lived-resources",
    section: SECTION,
    title: "Which resources were created and deleted again within a few hours?",
    description: "Resources with a successful create and a later successful delete at most \
        `maxHours` apart: who created and who deleted them and how many minutes they lived. \
        Short-lived servers, keys or buckets are a classic sign of someone covering tracks or of \
        leaked automation.",
    cypher: cypher!(
        "MATCH (r:Resource)<-[:APPLIED_ON]-(a:Action)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND NOT a.failed AND (",
            is_create!("a"),
            " OR ",
            is_delete!("a"),
            ")"
        ),
        "WITH r, a ORDER BY a.time, a.traceId",
        "WITH r, collect(a) AS acts",
        concat!(
            "WITH r, [x IN acts WHERE ",
            is_create!("x"),
            "][0] AS c, [x IN acts WHERE ",
            is_delete!("x"),
            "][-1] AS d"
        ),
        "WHERE c IS NOT NULL AND d IS NOT NULL AND d.time >= c.time",
        "  AND duration.inSeconds(c.time, d.time).seconds <= $maxHours * 3600",
        "MATCH (c)-[:PERFORMED_BY]->(cu:User), (d)-[:PERFORMED_BY]->(du:User)",
        concat!(
            "RETURN r.projectId AS project, r.type AS resourceType, ",
            full!("r.id"),
            " AS resourceId, ",
            full!("r.name"),
            " AS resource,"
        ),
        concat!(
            "       toString(c.time) AS created, ",
            who!("cu"),
            " AS createdBy,"
        ),
        concat!(
            "       toString(d.time) AS deleted, ",
            who!("du"),
            " AS deletedBy,"
        ),
        "       duration.inSeconds(c.time, d.time).seconds / 60 AS minutes",
        "ORDER BY c.time, r.key",
    ),
    params: &[
        PROJECTS,
        Param {
            name: "maxHours",
            kind: ParamKind::Integer,
            required: false,
            default: Some("24"),
            description: "Longest life, in hours, that counts as short.",
        },
    ],
    columns: &[
        "project",
        "resourceType",
        "resourceId",
        "resource",
        "created",
        "createdBy",
        "deleted",
        "deletedBy",
        "minutes",
    ],
};
