//! The questions themselves, one file per theme, and the Cypher fragments
//! and parameters they share.
//!
//! The fragments are macros that expand to string literals, so every query
//! is still one `&'static str` fixed at compile time (and printed in full in
//! <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/queries.md>), while a rule such as "what counts as a read" is
//! written once. No fragment takes a runtime value.

use super::{Param, ParamKind, Question};

/// Joins lines of Cypher with newlines into one literal.
macro_rules! cypher {
    ($($line:expr),+ $(,)?) => { concat!($($line, "\n"),+) };
}

/// True when the action `$a` belongs to one of `$projects` (or the list is empty).
macro_rules! in_projects {
    ($a:literal) => {
        concat!("($projects = [] OR ", $a, ".projectId IN $projects)")
    };
}

/// True when the action `$a` happened in [`$from`, `$to`) (open ends when null).
macro_rules! in_window {
    ($a:literal) => {
        concat!(
            "($from IS NULL OR ",
            $a,
            ".time >= datetime($from)) AND ($to IS NULL OR ",
            $a,
            ".time < datetime($to))"
        )
    };
}

/// True when the indexed property `$prop` (e.g. `r.name`) holds the value of
/// the parameter `$param`, also when the value is too long to be indexed as it
/// is (then `$prop` holds its index form and `<prop>Full` the value, see
/// `trace_graph::indexed`): equality for a short value; for a value of more
/// than 1024 characters also a seek by its first 1024 characters, which are
/// always a prefix of the form. Both are index seeks.
macro_rules! has_value {
    ($prop:literal, $param:literal) => {
        concat!(
            "(",
            $prop,
            " = ",
            $param,
            " OR (",
            $prop,
            " STARTS WITH CASE WHEN size(",
            $param,
            ") > 1024 THEN left(",
            $param,
            ", 1024) END AND ",
            $prop,
            "Full = ",
            $param,
            "))"
        )
    };
}

/// The whole value of the indexed property `$prop`, also when it is too long
/// to be indexed as it is.
macro_rules! full {
    ($prop:literal) => {
        concat!("coalesce(", $prop, "Full, ", $prop, ")")
    };
}

/// How a `User` node is shown: its name, or `system:<service>` for a system principal.
macro_rules! who {
    ($u:literal) => {
        concat!(
            "CASE WHEN ",
            $u,
            ".kind = 'system' THEN 'system:' + last(split(coalesce(",
            $u,
            ".keyFull, ",
            $u,
            ".key), 'system:')) ELSE coalesce(",
            $u,
            ".nameFull, ",
            $u,
            ".name, ",
            $u,
            ".idFull, ",
            $u,
            ".id) END"
        )
    };
}

/// The operation name of the action `$a`, whole.
macro_rules! op {
    ($a:literal) => {
        concat!("coalesce(", $a, ".nameFull, ", $a, ".name)")
    };
}

/// True when the operation of `$a` only reads (`listServers`, `getUser`, ...).
macro_rules! is_read {
    ($a:literal) => {
        concat!(
            op!($a),
            " =~ '(list|get|show|query|describe|search|check|count)([A-Z_].*)?'"
        )
    };
}

/// True when the operation of `$a` creates something (`createServer`, `addUserToGroup`, ...).
macro_rules! is_create {
    ($a:literal) => {
        concat!(
            op!($a),
            " =~ '(create|add|register|allocate|launch|run|import)([A-Z_].*)?'"
        )
    };
}

/// True when the operation of `$a` deletes something (`deleteServer`, `releaseEip`, ...).
macro_rules! is_delete {
    ($a:literal) => {
        concat!(
            op!($a),
            " =~ '(delete|remove|release|destroy|terminate|batchDelete)([A-Z_].*)?'"
        )
    };
}

mod activity;
mod failures;
mod iam;
mod network;
mod resources;
mod users;

/// Every question of the playbook, in the order of the playbook page (<https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/queries.md>).
pub static QUESTIONS: &[Question] = &[
    resources::RESOURCE_LOOKUP,
    resources::RESOURCE_CHANGES,
    resources::RESOURCE_LIFE,
    resources::RESOURCE_DELETIONS,
    resources::SHORT_LIVED_RESOURCES,
    users::USER_ACTIVITY,
    users::BLAST_RADIUS,
    users::BLAST_RADIUS_RESOURCES,
    users::FIRST_TIME_OPERATIONS,
    users::NEW_USERS,
    users::MULTI_PROJECT_USERS,
    users::AGENCY_ACTIONS,
    failures::FAILURES_BY_SERVICE,
    failures::FAILURES_BY_USER,
    failures::FLAGGED_ACTIONS,
    failures::ACCESS_DENIED,
    failures::FAILED_THEN_SUCCEEDED,
    network::NEW_SOURCE_IPS,
    network::SHARED_SOURCE_IPS,
    network::USER_SOURCE_IPS,
    network::IP_ACTIVITY,
    iam::IAM_CHANGES,
    iam::IAM_CHANGES_BY_USER,
    iam::LOGINS,
    activity::CHANNEL_MIX,
    activity::CHANNEL_BY_USER,
    activity::OFF_HOURS,
    activity::TOP_USERS,
    activity::TOP_SERVICES,
    activity::DAILY_ACTIVITY,
    activity::PROJECT_GRAPH,
];

/// `projects`: the projects a question may read.
const PROJECTS: Param = Param {
    name: "projects",
    kind: ParamKind::TextList,
    required: false,
    default: None,
    description: "Project ids to look at (repeat the parameter or separate with commas); \
                  none means every project.",
};

/// `from`: start of the time window.
const FROM: Param = Param {
    name: "from",
    kind: ParamKind::DateTime,
    required: false,
    default: None,
    description: "Only actions at or after this time (UTC unless an offset is given); \
                  none means since the beginning.",
};

/// `to`: end of the time window.
const TO: Param = Param {
    name: "to",
    kind: ParamKind::DateTime,
    required: false,
    default: None,
    description: "Only actions before this time; none means up to now.",
};

/// `user`: one user, required.
const USER: Param = Param {
    name: "user",
    kind: ParamKind::Text,
    required: true,
    default: None,
    description: "The user's name (or IAM user id), e.g. `alice`.",
};

/// `user`: optionally one user.
const USER_FILTER: Param = Param {
    name: "user",
    kind: ParamKind::Text,
    required: false,
    default: None,
    description: "Only this user (name or IAM user id); none means every user.",
};

/// `resource`: one resource by id or name, required.
const RESOURCE: Param = Param {
    name: "resource",
    kind: ParamKind::Text,
    required: true,
    default: None,
    description: "The resource id, or its name, e.g. `ecs-0001` or `web-1`.",
};

/// `since`: the date from which something counts as new.
const SINCE: Param = Param {
    name: "since",
    kind: ParamKind::DateTime,
    required: true,
    default: None,
    description: "What happened first at or after this time counts as new, e.g. `2024-06-05`.",
};

#[cfg(test)]
mod tests;
