//! The detection rules. Each is one Cypher text fixed at compile time.
//!
//! Conventions every rule keeps (tests check the first three):
//! - the new actions are those with `storedAt >= datetime({epochMillis: $since_ms})`
//!   in `$projects` (empty = all), the [`new_actions!`] prefix;
//! - the columns are `key, actions, users, resources, ips, summary`, ordered by `key`;
//! - the key is built only from values that identify the situation (trace ids,
//!   user keys, IPs, projects, time buckets), so a rerun finds the same key;
//! - windowed counts ("20 deletions in 5 minutes") use fixed buckets of the
//!   window (`timeMs / window`), so every run puts an action in the same bucket.

use super::{Rule, RuleParam, Severity};

/// `MATCH (<v>:Action) WHERE <new and in scope> AND`, to be continued.
macro_rules! new_actions {
    ($v:literal) => {
        concat!(
            "MATCH (",
            $v,
            ":Action) USING INDEX ",
            $v,
            ":Action(storedAt) WHERE ",
            $v,
            ".storedAt >= datetime({epochMillis: $since_ms}) AND (size($projects) = 0 OR ",
            $v,
            ".projectId IN $projects) AND "
        )
    };
}

/// `CALL (bucket) { MATCH (x:Action)` in the window `bucket` by the time index, `WHERE`, to be continued.
/// One scan per window with new actions, grouped by user inside.
macro_rules! window_scan {
    () => {
        concat!(
            "CALL (bucket) { MATCH (x:Action) USING INDEX x:Action(time) ",
            "WHERE x.time >= datetime({epochMillis: bucket * $window_secs * 1000}) ",
            "AND x.time < datetime({epochMillis: (bucket + 1) * $window_secs * 1000}) AND "
        )
    };
}

/// A user's readable name.
macro_rules! who {
    ($u:literal) => {
        concat!("coalesce(", $u, ".name, ", $u, ".id, ", $u, ".key)")
    };
}

const fn int(
    name: &'static str,
    default: &'static str,
    min: i64,
    max: i64,
    description: &'static str,
) -> RuleParam {
    RuleParam {
        name,
        default,
        min: Some(min),
        max: Some(max),
        description,
    }
}

const WINDOW_MAX: i64 = 30 * 24 * 3600;

/// The IAM operations that grant permissions (role or policy assignments).
macro_rules! grant_ops {
    () => {
        "['assignRoleToAgencyOnProject', 'assignRoleToAgencyOnDomain', \
         'assignRoleToGroupOnProject', 'assignRoleToGroupOnDomain', \
         'grantRoleToGroupOnProject', 'grantRoleToGroupOnDomain', \
         'createRole', 'updateRole', 'addUserToGroup', \
         'attachGroupPolicyV5', 'attachAgencyPolicyV5', 'attachUserPolicyV5']"
    };
}

/// Failed console logins: OTC's `loginfailed` (Huawei: `loginFailed`), or a `login` rated failed.
macro_rules! failed_login {
    ($v:literal) => {
        concat!(
            "(",
            $v,
            ".name IN ['loginfailed', 'loginFailed'] OR (",
            $v,
            ".name = 'login' AND ",
            $v,
            ".failed))"
        )
    };
}

/// Deletions: `delete…` operations and KMS key deletion.
macro_rules! deletion {
    ($v:literal) => {
        concat!(
            "(",
            $v,
            ".name STARTS WITH 'delete' OR ",
            $v,
            ".name = 'scheduleKeyDeletion')"
        )
    };
}

/// One row per new action: the shared `RETURN` of single-action rules.
macro_rules! single_action {
    ($summary:expr) => {
        concat!(
            "MATCH (a)-[:PERFORMED_BY]->(u:User) ",
            "RETURN a.traceId AS key, [a.traceId] AS actions, [",
            who!("u"),
            "] AS users, [coalesce(a.resourceName, a.resourceId)] AS resources, ",
            "[a.sourceIp] AS ips, ",
            $summary,
            " AS summary ORDER BY key"
        )
    };
}

/// Every rule, in the order of docs/detections.md.
pub static RULES: &[Rule] = &[
    Rule {
        name: "audit-trail-tampered",
        title: "The audit trail was changed, stopped or deleted",
        severity: Severity::High,
        rationale: "Whoever disables or deletes the CTS tracker (or redirects it to another bucket) \
            blinds every later investigation; it is the first step of many intrusions. Refused \
            attempts are reported too: trying is already worth a look.",
        watches: "CTS `updateTracker`, `deleteTracker` (resource type `tracker`). A tracker is \
            stopped with `updateTracker` and `status: disabled` in the request.",
        cypher: concat!(
            new_actions!("a"),
            "a.service = 'CTS' AND a.name IN ['updateTracker', 'deleteTracker'] ",
            single_action!(concat!(
                who!("u"),
                " + ' ran ' + a.name + ' on tracker ' + coalesce(a.resourceName, a.resourceId, '?') \
                 + CASE WHEN a.failed THEN ' (refused)' ELSE '' END"
            ))
        ),
        params: &[],
    },
    Rule {
        name: "new-source-ip",
        title: "A user logged in or called an API from an IP never seen for that user",
        severity: Severity::Medium,
        rationale: "Stolen passwords and access keys are used from the attacker's network. The graph \
            knows every IP each user ever acted from, so the first action from a new one is one \
            lookup. Users without any earlier action are skipped (everything is new for them); \
            system principals have no IP.",
        watches: "every console or API action (`trace_type` `ConsoleAction`, `ApiCall`) with a \
            `source_ip`",
        cypher: concat!(
            new_actions!("a"),
            "a.sourceIp IS NOT NULL AND a.channel IN ['console', 'api'] ",
            "MATCH (a)-[:PERFORMED_BY]->(u:User {kind: 'user'}) ",
            "WITH u, a ORDER BY a.time, a.traceId ",
            "WITH u, a.sourceIp AS ip, min(a.time) AS first, collect(a.traceId) AS ids ",
            "WHERE NOT EXISTS { MATCH (:IpAddress {address: ip})<-[:FROM_IP]-(b:Action)-[:PERFORMED_BY]->(u) ",
            "WHERE b.time < first } ",
            "AND EXISTS { MATCH (u)<-[:PERFORMED_BY]-(c:Action) WHERE c.time < first AND c.sourceIp IS NOT NULL } ",
            "RETURN u.key + ' ' + ip AS key, ids[..20] AS actions, [",
            who!("u"),
            "] AS users, [] AS resources, [ip] AS ips, ",
            who!("u"),
            " + ' acted from ' + ip + ' for the first time' AS summary ORDER BY key"
        ),
        params: &[],
    },
    Rule {
        name: "login-failures-then-success",
        title: "Console login failures followed by a successful login",
        severity: Severity::High,
        rationale: "Several failed logins and then a success within minutes is how password guessing \
            looks when it works. The finding names the successful login and the failures before it.",
        watches: "IAM `login`, `loginfailed` (OTC's documented name; Huawei Cloud writes \
            `loginFailed`; a `login` rated `warning`/`incident` or with a code ≥ 400 also counts \
            as a failure)",
        cypher: concat!(
            new_actions!("s"),
            "s.name = 'login' AND NOT s.failed ",
            "MATCH (s)-[:PERFORMED_BY]->(u:User) ",
            "CALL (s, u) { ",
            "MATCH (f:Action) USING INDEX f:Action(time) ",
            "WHERE f.time >= s.time - duration({seconds: $window_secs}) AND f.time <= s.time ",
            "AND ",
            failed_login!("f"),
            " AND (f)-[:PERFORMED_BY]->(u) ",
            "RETURN collect(f.traceId) AS fails, collect(f.sourceIp) AS failIps } ",
            "WITH s, u, fails, failIps WHERE size(fails) >= $failures ",
            "RETURN s.traceId AS key, fails + [s.traceId] AS actions, [",
            who!("u"),
            "] AS users, [] AS resources, failIps + [s.sourceIp] AS ips, ",
            who!("u"),
            " + ' logged in after ' + toString(size(fails)) + ' failed logins' AS summary ORDER BY key"
        ),
        params: &[
            int("failures", "3", 1, 1000, "failed logins needed before the success"),
            int("window_secs", "900", 1, WINDOW_MAX, "how far before the success failures count"),
        ],
    },
    Rule {
        name: "access-key-new-ip",
        title: "An access key was created and then used from a new IP",
        severity: Severity::High,
        rationale: "A new access key used soon after from an address the user never used before is \
            the pattern of a key created for (or by) someone else. The finding names the creation and \
            the API calls from the new address.",
        watches: "IAM `createCredential` (OTC; Huawei Cloud eu-west-0 writes `addCredential`), then \
            any `ApiCall` by the same user",
        cypher: concat!(
            new_actions!("b"),
            "b.channel = 'api' AND b.sourceIp IS NOT NULL ",
            "MATCH (b)-[:PERFORMED_BY]->(u:User {kind: 'user'}) ",
            "WITH u, b ORDER BY b.time, b.traceId ",
            "WITH u, b.sourceIp AS ip, min(b.time) AS first, collect(b.traceId) AS ids ",
            "WHERE NOT EXISTS { MATCH (:IpAddress {address: ip})<-[:FROM_IP]-(p:Action)-[:PERFORMED_BY]->(u) ",
            "WHERE p.time < first } ",
            "WITH collect({u: u, ip: ip, first: first, ids: ids}) AS groups, min(first) AS lo, max(first) AS hi ",
            "MATCH (c:Action) USING INDEX c:Action(time) ",
            "WHERE c.time >= lo - duration({seconds: $window_secs}) AND c.time < hi ",
            "AND c.name IN ['createCredential', 'addCredential'] AND NOT c.failed ",
            "MATCH (c)-[:PERFORMED_BY]->(cu:User) ",
            "UNWIND groups AS g WITH c, cu, g WHERE g.u = cu AND c.time < g.first ",
            "AND c.time >= g.first - duration({seconds: $window_secs}) ",
            "WITH c, g.u AS u, g.ip AS ip, g.ids AS ids ",
            "RETURN c.traceId + ' ' + ip AS key, [c.traceId] + ids[..20] AS actions, [",
            who!("u"),
            "] AS users, [coalesce(c.resourceName, c.resourceId)] AS resources, [ip] AS ips, ",
            who!("u"),
            " + ' created access key ' + coalesce(c.resourceName, c.resourceId, '?') + \
             ' and used the API from the new IP ' + ip AS summary ORDER BY key"
        ),
        params: &[int(
            "window_secs",
            "86400",
            1,
            WINDOW_MAX,
            "how long after the creation a use counts",
        )],
    },
    Rule {
        name: "iam-grant-off-hours",
        title: "An IAM role or policy was granted off-hours",
        severity: Severity::Medium,
        rationale: "Permission changes are planned work; one at night or at the weekend is either an \
            emergency someone should know about or an intruder widening their access.",
        watches: concat!(
            "IAM ",
            grant_ops!(),
            ". OTC documents `assignRoleToAgencyOnProject`; the group and policy names are Huawei \
             Cloud's and may differ on OTC: uncertain."
        ),
        cypher: concat!(
            new_actions!("a"),
            "a.service = 'IAM' AND a.name IN ",
            grant_ops!(),
            " AND NOT a.failed ",
            "WITH a, datetime({epochMillis: a.timeMs, timezone: $tz}) AS local ",
            "WHERE local.hour >= $start_hour OR local.hour < $end_hour OR ($weekends = 1 AND local.dayOfWeek >= 6) ",
            single_action!(concat!(
                who!("u"),
                " + ' ran ' + a.name + ' at ' + toString(local)"
            ))
        ),
        params: &[
            int("start_hour", "20", 0, 24, "off-hours begin at this hour (local time)"),
            int("end_hour", "6", 0, 24, "off-hours end at this hour (local time)"),
            int("weekends", "1", 0, 1, "1: Saturday and Sunday are off-hours all day"),
            RuleParam {
                name: "tz",
                default: "UTC",
                min: None,
                max: None,
                description: "time zone of the working hours, e.g. Europe/Berlin",
            },
        ],
    },
    Rule {
        name: "agency-to-other-domain",
        title: "An agency was created or changed to trust another domain",
        severity: Severity::High,
        rationale: "An agency lets another account act in this one. Towards a cloud service \
            (`op_svc_…`) it is routine; towards a foreign domain it is a standing door that outlives \
            passwords and keys.",
        watches: "IAM `createAgency`, `updateAgency` (OTC), `createAgencyV5`, `updateTrustPolicyV5` \
            (Huawei); the trusted domain is read from `trust_domain_id` / `trust_domain_name` in \
            the request",
        cypher: concat!(
            new_actions!("a"),
            "a.service = 'IAM' AND a.name IN ['createAgency', 'updateAgency', 'createAgencyV5', 'updateTrustPolicyV5'] ",
            "AND NOT a.failed AND a.request IS NOT NULL ",
            "WITH a, CASE WHEN a.request CONTAINS '\"trust_domain_id\"' ",
            "THEN split(split(a.request, '\"trust_domain_id\"')[1], '\"')[1] END AS tid, ",
            "CASE WHEN a.request CONTAINS '\"trust_domain_name\"' ",
            "THEN split(split(a.request, '\"trust_domain_name\"')[1], '\"')[1] END AS tname ",
            "MATCH (a)-[:PERFORMED_BY]->(u:User) ",
            "WITH a, u, tid, tname WHERE (tid IS NOT NULL OR tname IS NOT NULL) ",
            "AND NOT coalesce(tname, '') STARTS WITH 'op_svc_' ",
            "AND coalesce(tid, '') <> coalesce(a.domainId, '') ",
            "AND (tname IS NULL OR tname <> coalesce(u.domainName, '')) ",
            "RETURN a.traceId AS key, [a.traceId] AS actions, [",
            who!("u"),
            "] AS users, [coalesce(a.resourceName, a.resourceId)] AS resources, [a.sourceIp] AS ips, ",
            who!("u"),
            " + ' let domain ' + coalesce(tname, tid) + ' in through agency ' + \
             coalesce(a.resourceName, a.resourceId, '?') AS summary ORDER BY key"
        ),
        params: &[],
    },
    Rule {
        name: "mass-deletion",
        title: "Many resources deleted by one user within minutes",
        severity: Severity::High,
        rationale: "Ransom and sabotage delete fast and wide; housekeeping rarely deletes dozens of \
            resources in a few minutes. Counted per user in fixed windows (the key is the user and \
            the window), so a burst that straddles a window boundary needs the threshold in one of \
            them: choose a window about twice the burst you want to catch.",
        watches: "every successful `delete…` operation (e.g. ECS `deleteServer`, EVS `deleteVolume`, \
            OBS `deleteBucket`) and KMS `scheduleKeyDeletion`, by users (not the platform)",
        cypher: concat!(
            new_actions!("d"),
            deletion!("d"),
            " AND NOT d.failed ",
            "WITH DISTINCT d.timeMs / ($window_secs * 1000) AS bucket ",
            window_scan!(),
            deletion!("x"),
            " AND NOT x.failed AND (size($projects) = 0 OR x.projectId IN $projects) ",
            "MATCH (x)-[:PERFORMED_BY]->(u:User {kind: 'user'}) ",
            "WITH u, x ORDER BY x.time, x.traceId ",
            "RETURN u, count(x) AS n, collect(x.traceId) AS ids, ",
            "collect(coalesce(x.resourceName, x.resourceId)) AS res, collect(x.sourceIp) AS ips } ",
            "WITH u, bucket, n, ids, res, ips WHERE n >= $threshold ",
            "RETURN u.key + ' ' + toString(bucket) AS key, ids[..50] AS actions, [",
            who!("u"),
            "] AS users, res[..50] AS resources, ips AS ips, ",
            who!("u"),
            " + ' deleted ' + toString(n) + ' resources between ' + \
             toString(datetime({epochMillis: bucket * $window_secs * 1000})) + ' and ' + \
             toString(datetime({epochMillis: (bucket + 1) * $window_secs * 1000})) AS summary ORDER BY key"
        ),
        params: &[
            int("threshold", "20", 2, 1_000_000, "deletions in one window that raise a finding"),
            int("window_secs", "300", 1, WINDOW_MAX, "window length"),
        ],
    },
    Rule {
        name: "security-group-open-world",
        title: "A security group rule opened to the whole internet (0.0.0.0/0 or ::/0)",
        severity: Severity::High,
        rationale: "An ingress rule from any address exposes every port it names (SSH, RDP, \
            databases) to internet-wide scanners within minutes. Egress rules to anywhere are normal \
            and are not reported.",
        watches: "VPC `createSecurityGroupRule` (resource type `security_group`); the request's \
            `remote_ip_prefix`",
        cypher: concat!(
            new_actions!("a"),
            "a.service = 'VPC' AND a.name = 'createSecurityGroupRule' AND NOT a.failed ",
            "AND (a.request CONTAINS '0.0.0.0/0' OR a.request CONTAINS '::/0') ",
            "AND NOT a.request CONTAINS 'egress' ",
            single_action!(concat!(
                who!("u"),
                " + ' opened security group ' + coalesce(a.resourceName, a.resourceId, '?') + \
                 ' to any address'"
            ))
        ),
        params: &[],
    },
    Rule {
        name: "obs-bucket-public",
        title: "An OBS bucket was made public",
        severity: Severity::High,
        rationale: "Public buckets are the most common cloud data leak. A canned ACL `public-read…`, \
            a grant to everyone (`Everyone`, `AllUsers`) or a policy whose principal is `*` makes a \
            bucket readable by anyone.",
        watches: "OBS `setBucketAcl`, `setBucketPolicy` (the emulator's names; real OBS traces may \
            be named after the API, e.g. `PUT.BUCKET.ACL`: uncertain, both are watched)",
        cypher: concat!(
            new_actions!("a"),
            "a.service = 'OBS' AND a.name IN ['setBucketAcl', 'setBucketPolicy', 'PUT.BUCKET.ACL', 'PUT.BUCKET.POLICY'] ",
            "AND NOT a.failed AND (a.request CONTAINS 'public-read' OR a.request CONTAINS 'Everyone' ",
            "OR a.request CONTAINS 'AllUsers' ",
            "OR a.request =~ '(?s).*\"(ID|AWS)\"\\\\s*:\\\\s*\\\\[?\\\\s*\"\\\\*\".*' ",
            "OR a.request =~ '(?s).*\"Principal\"\\\\s*:\\\\s*\"\\\\*\".*') ",
            single_action!(concat!(
                who!("u"),
                " + ' made bucket ' + coalesce(a.resourceName, a.resourceId, '?') + ' public (' + a.name + ')'"
            ))
        ),
        params: &[],
    },
    Rule {
        name: "kms-key-deletion",
        title: "A KMS key was scheduled for deletion",
        severity: Severity::High,
        rationale: "Deleting a key makes everything encrypted with it unreadable for good once the \
            waiting period ends; an attacker does it to destroy data, an admin by mistake. Either \
            way someone should cancel it in time.",
        watches: "KMS `scheduleKeyDeletion` (resource type `cmk`)",
        cypher: concat!(
            new_actions!("a"),
            "a.service = 'KMS' AND a.name = 'scheduleKeyDeletion' AND NOT a.failed ",
            single_action!(concat!(
                who!("u"),
                " + ' scheduled the deletion of key ' + coalesce(a.resourceName, a.resourceId, '?')"
            ))
        ),
        params: &[],
    },
    Rule {
        name: "kms-key-disabled",
        title: "A KMS key was disabled",
        severity: Severity::Medium,
        rationale: "A disabled key stops every service that decrypts with it (volumes, buckets, \
            databases): an outage or a rehearsal of the deletion.",
        watches: "KMS `disableKey`",
        cypher: concat!(
            new_actions!("a"),
            "a.service = 'KMS' AND a.name = 'disableKey' AND NOT a.failed ",
            single_action!(concat!(
                who!("u"),
                " + ' disabled key ' + coalesce(a.resourceName, a.resourceId, '?')"
            ))
        ),
        params: &[],
    },
    Rule {
        name: "first-project-for-user",
        title: "A user acted in a project for the first time",
        severity: Severity::Low,
        rationale: "People tend to work in the same projects. A first action in another project is \
            often a new task, sometimes a compromised account exploring. Users without any earlier \
            action are skipped.",
        watches: "every console or API action",
        cypher: concat!(
            new_actions!("a"),
            "a.channel IN ['console', 'api'] AND a.projectId <> 'unknown' ",
            "MATCH (a)-[:PERFORMED_BY]->(u:User {kind: 'user'}) ",
            "WITH u, a ORDER BY a.time, a.traceId ",
            "WITH u, a.projectId AS project, min(a.time) AS first, collect(a) AS acts ",
            "WHERE NOT EXISTS { MATCH (u)<-[:PERFORMED_BY]-(b:Action) WHERE b.projectId = project AND b.time < first } ",
            "AND EXISTS { MATCH (u)<-[:PERFORMED_BY]-(c:Action) WHERE c.time < first AND c.projectId <> 'unknown' } ",
            "RETURN u.key + ' ' + project AS key, [x IN acts[..20] | x.traceId] AS actions, [",
            who!("u"),
            "] AS users, [x IN acts[..20] | coalesce(x.resourceName, x.resourceId)] AS resources, ",
            "[x IN acts[..20] | x.sourceIp] AS ips, ",
            who!("u"),
            " + ' acted in project ' + project + ' for the first time' AS summary ORDER BY key"
        ),
        params: &[],
    },
    Rule {
        name: "repeated-access-denied",
        title: "Repeated 403 (access denied) answers for one user",
        severity: Severity::Medium,
        rationale: "A burst of refusals is someone probing what a credential may do (or a broken \
            automation). Counted per user in fixed windows, like mass deletion.",
        watches: "every action with `code` 403",
        cypher: concat!(
            new_actions!("d"),
            "d.code = '403' ",
            "WITH DISTINCT d.timeMs / ($window_secs * 1000) AS bucket ",
            window_scan!(),
            "x.code = '403' AND (size($projects) = 0 OR x.projectId IN $projects) ",
            "MATCH (x)-[:PERFORMED_BY]->(u:User) ",
            "WITH u, x ORDER BY x.time, x.traceId ",
            "RETURN u, count(x) AS n, collect(x.traceId) AS ids, ",
            "collect(x.service + ' ' + x.name) AS ops, collect(x.sourceIp) AS ips } ",
            "WITH u, bucket, n, ids, ops, ips WHERE n >= $threshold ",
            "RETURN u.key + ' ' + toString(bucket) AS key, ids[..50] AS actions, [",
            who!("u"),
            "] AS users, [] AS resources, ips AS ips, ",
            who!("u"),
            " + ' was refused ' + toString(n) + ' times (' + reduce(s = '', o IN ops[..3] | s + o + '; ') + '…)' AS summary ORDER BY key"
        ),
        params: &[
            int("threshold", "10", 2, 1_000_000, "403 answers in one window that raise a finding"),
            int("window_secs", "600", 1, WINDOW_MAX, "window length"),
        ],
    },
    Rule {
        name: "cross-domain-agency-use",
        title: "A user of another domain acted in a project through an agency for the first time",
        severity: Severity::Medium,
        rationale: "The graph keeps the person behind an agency session (`ASSUMED_BY`). A person from \
            a foreign domain appearing in a project for the first time is the agency being used, \
            perhaps by someone it was never meant for.",
        watches: "every action whose `user.assumedBy` names a user of another domain",
        cypher: concat!(
            new_actions!("a"),
            "a.projectId <> 'unknown' ",
            "MATCH (a)-[:ASSUMED_BY]->(p:User) WHERE p.domainId IS NOT NULL AND p.domainId <> coalesce(a.domainId, '') ",
            "WITH p, a ORDER BY a.time, a.traceId ",
            "WITH p, a.projectId AS project, min(a.time) AS first, collect(a) AS acts ",
            "WHERE NOT EXISTS { MATCH (p)<-[:ASSUMED_BY]-(b:Action) WHERE b.projectId = project AND b.time < first } ",
            "RETURN p.key + ' ' + project AS key, [x IN acts[..20] | x.traceId] AS actions, [",
            who!("p"),
            "] AS users, [x IN acts[..20] | coalesce(x.resourceName, x.resourceId)] AS resources, ",
            "[x IN acts[..20] | x.sourceIp] AS ips, ",
            who!("p"),
            " + ' of domain ' + coalesce(p.domainName, p.domainId) + ' acted in project ' + project + \
             ' through an agency for the first time' AS summary ORDER BY key"
        ),
        params: &[],
    },
    Rule {
        name: "many-source-ips",
        title: "One user acting from many IP addresses within a short time",
        severity: Severity::Medium,
        rationale: "A person works from one or two addresses at a time. Many at once is a shared or \
            leaked credential used from several places. Counted per user in fixed windows.",
        watches: "every console or API action with a `source_ip`",
        cypher: concat!(
            new_actions!("d"),
            "d.sourceIp IS NOT NULL AND d.channel IN ['console', 'api'] ",
            "WITH DISTINCT d.timeMs / ($window_secs * 1000) AS bucket ",
            window_scan!(),
            "x.sourceIp IS NOT NULL AND x.channel IN ['console', 'api'] ",
            "AND (size($projects) = 0 OR x.projectId IN $projects) ",
            "MATCH (x)-[:PERFORMED_BY]->(u:User {kind: 'user'}) ",
            "WITH u, x ORDER BY x.time, x.traceId ",
            "WITH u, x.sourceIp AS ip, collect(x.traceId)[0] AS first ",
            "RETURN u, count(ip) AS n, collect(ip) AS ips, collect(first) AS ids } ",
            "WITH u, bucket, n, ips, ids WHERE n >= $threshold ",
            "RETURN u.key + ' ' + toString(bucket) AS key, ids[..50] AS actions, [",
            who!("u"),
            "] AS users, [] AS resources, ips[..50] AS ips, ",
            who!("u"),
            " + ' acted from ' + toString(n) + ' addresses within ' + toString($window_secs) + ' s' AS summary ORDER BY key"
        ),
        params: &[
            int("threshold", "5", 2, 100_000, "distinct addresses in one window that raise a finding"),
            int("window_secs", "3600", 1, WINDOW_MAX, "window length"),
        ],
    },
    Rule {
        name: "mfa-device-unbound",
        title: "A user's MFA device was unbound",
        severity: Severity::Medium,
        rationale: "Removing a second factor is how a taken-over account is made easier to use; it \
            is also rare in normal work.",
        watches: "IAM `UnBindMFA` (OTC's documented name, resource type `MFA`) and `unbindMfaDevice` \
            (uncertain)",
        cypher: concat!(
            new_actions!("a"),
            "a.service = 'IAM' AND a.name IN ['UnBindMFA', 'unbindMfaDevice'] AND NOT a.failed ",
            single_action!(concat!(
                who!("u"),
                " + ' unbound the MFA device ' + coalesce(a.resourceName, a.resourceId, '?')"
            ))
        ),
        params: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_keeps_the_conventions() {
        let mut names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        assert!(names.len() >= 15, "the issue asks for at least 15 rules");
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RULES.len(), "rule names are unique");
        for r in RULES {
            assert!(
                r.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}: kebab-case",
                r.name
            );
            assert!(
                r.cypher
                    .contains("storedAt >= datetime({epochMillis: $since_ms})"),
                "{}",
                r.name
            );
            assert!(r.cypher.contains("$projects"), "{}", r.name);
            let ret = r.cypher.rsplit("RETURN ").next().unwrap_or("");
            let mut at = 0;
            for col in [
                " AS key",
                " AS actions",
                " AS users",
                " AS resources",
                " AS ips",
                " AS summary",
            ] {
                let found = ret[at..]
                    .find(col)
                    .unwrap_or_else(|| panic!("{}: column{col} in order", r.name));
                at += found + col.len();
            }
            assert!(r.cypher.ends_with("ORDER BY key"), "{}", r.name);
            for p in r.params {
                assert!(
                    r.cypher.contains(&format!("${}", p.name)),
                    "{}: ${} unused",
                    r.name,
                    p.name
                );
            }
        }
    }
}
