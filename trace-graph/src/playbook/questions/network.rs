//! Questions about where calls came from: new source IPs per user, IPs shared
//! by several users, every IP of one user, everything done from one IP.

use super::{Param, ParamKind, Question, FROM, PROJECTS, SINCE, TO, USER, USER_FILTER};

const SECTION: &str = "Source IPs";

pub(crate) const NEW_SOURCE_IPS: Question = Question {
    name: "new-source-ips",
    section: SECTION,
    title: "When did a user first act from a new source IP?",
    description: "For each user (or the one given), the source IPs first used at or after \
        `since`: the first time and operation from that IP, how many actions came from it, and \
        `knownBefore`, the IPs the user had used before `since`. A new IP together with a \
        sensitive first operation (a login, an access key) is the classic stolen-credential \
        pattern.",
    cypher: cypher!(
        "MATCH (u:User {kind: 'user'})<-[:PERFORMED_BY]-(a:Action)-[:FROM_IP]->(ip:IpAddress)",
        concat!(
            "WHERE ",
            in_projects!("a"),
            " AND ($user IS NULL OR ",
            has_value!("u.name", "$user"),
            " OR ",
            has_value!("u.id", "$user"),
            ")"
        ),
        "WITH u, ip, a ORDER BY a.time, a.traceId",
        "WITH u, ip, collect(a) AS acts ORDER BY ip.address",
        concat!(
            "WITH u, collect({ip: ",
            full!("ip.address"),
            ", first: acts[0], actions: size(acts)}) AS seen"
        ),
        "UNWIND seen AS s",
        "WITH u, s, [x IN seen WHERE x.first.time < datetime($since) | x.ip] AS knownBefore",
        "WHERE s.first.time >= datetime($since)",
        concat!(
            "RETURN ",
            who!("u"),
            " AS user, s.ip AS sourceIp, toString(s.first.time) AS first,"
        ),
        concat!(
            "       ",
            op!("s.first"),
            " AS firstOperation, s.first.projectId AS project, s.actions AS actions,"
        ),
        "       knownBefore",
        "ORDER BY s.first.time, user, sourceIp",
    ),
    params: &[SINCE, USER_FILTER, PROJECTS],
    columns: &[
        "user",
        "sourceIp",
        "first",
        "firstOperation",
        "project",
        "actions",
        "knownBefore",
    ],
};

pub(crate) const SHARED_SOURCE_IPS: Question = Question {
    name: "shared-source-ips",
    section: SECTION,
    title: "Which source IPs are shared by several users?",
    description: "IP addresses from which at least `minUsers` different people acted: the users \
        and the number of actions. An office NAT or a bastion host is expected here; a home IP \
        shared by two accounts is not.",
    cypher: cypher!(
        "MATCH (ip:IpAddress)<-[:FROM_IP]-(a:Action)-[:PERFORMED_BY]->(u:User {kind: 'user'})",
        concat!("WHERE ", in_projects!("a"), " AND ", in_window!("a")),
        "WITH ip, u, count(a) AS n",
        concat!("WITH ip, ", who!("u"), " AS user, n ORDER BY user"),
        "WITH ip, collect(user) AS users, sum(n) AS actions",
        "WHERE size(users) >= $minUsers",
        concat!(
            "RETURN ",
            full!("ip.address"),
            " AS sourceIp, size(users) AS userCount, users, actions"
        ),
        "ORDER BY userCount DESC, sourceIp",
    ),
    params: &[
        PROJECTS,
        FROM,
        TO,
        Param {
            name: "minUsers",
            kind: ParamKind::Integer,
            required: false,
            default: Some("2"),
            description: "Fewest distinct users an IP must have to be listed.",
        },
    ],
    columns: &["sourceIp", "userCount", "users", "actions"],
};

pub(crate) const USER_SOURCE_IPS: Question = Question {
    name: "user-source-ips",
    section: SECTION,
    title: "From which IPs did a user act, and who else used them?",
    description: "One row per source IP of the user: how many actions, first and last time, and \
        `otherUsers`, the other people seen on the same IP in the selected projects.",
    cypher: cypher!(
        "MATCH (u:User)<-[:PERFORMED_BY]-(a:Action)-[:FROM_IP]->(ip:IpAddress)",
        concat!(
            "WHERE (", has_value!("u.name", "$user"), " OR ", has_value!("u.id", "$user"), ") AND ",
            in_projects!("a"),
            " AND ",
            in_window!("a")
        ),
        "WITH ip, count(a) AS actions, min(a.time) AS first, max(a.time) AS last, collect(DISTINCT u) AS me",
        "OPTIONAL MATCH (ip)<-[:FROM_IP]-(b:Action)-[:PERFORMED_BY]->(o:User {kind: 'user'})",
        concat!(
            "WHERE NOT o IN me AND ",
            in_projects!("b"),
            " AND ",
            in_window!("b")
        ),
        concat!(
            "WITH ip, actions, first, last, ",
            who!("o"),
            " AS other ORDER BY other"
        ),
        concat!("RETURN ", full!("ip.address"), " AS sourceIp, actions, toString(first) AS first, toString(last) AS last,"),
        "       collect(DISTINCT other) AS otherUsers",
        "ORDER BY first, sourceIp",
    ),
    params: &[USER, PROJECTS, FROM, TO],
    columns: &["sourceIp", "actions", "first", "last", "otherUsers"],
};

pub(crate) const IP_ACTIVITY: Question = Question {
    name: "ip-activity",
    section: SECTION,
    title: "What was done from a given IP address?",
    description: "Everything that came from the address, one row per user and project: how many \
        actions, how many failed, which operations, first and last time.",
    cypher: cypher!(
        "MATCH (ip:IpAddress)<-[:FROM_IP]-(a:Action)-[:PERFORMED_BY]->(u:User)",
        concat!(
            "WHERE ",
            has_value!("ip.address", "$ip"),
            " AND ",
            in_projects!("a"),
            " AND ",
            in_window!("a")
        ),
        "WITH u, a.projectId AS project, a ORDER BY a.time, a.traceId",
        "WITH u, project, count(a) AS actions, sum(CASE WHEN a.failed THEN 1 ELSE 0 END) AS failed,",
        concat!("     collect(DISTINCT ", op!("a"), ") AS operations, min(a.time) AS first, max(a.time) AS last"),
        concat!("RETURN ", who!("u"), " AS user, project, actions, failed, operations,"),
        "       toString(first) AS first, toString(last) AS last",
        "ORDER BY first, user, project",
    ),
    params: &[
        Param {
            name: "ip",
            kind: ParamKind::Text,
            required: true,
            default: None,
            description: "The source IP address, e.g. `203.0.113.66`.",
        },
        PROJECTS,
        FROM,
        TO,
    ],
    columns: &[
        "user",
        "project",
        "actions",
        "failed",
        "operations",
        "first",
        "last",
    ],
};
