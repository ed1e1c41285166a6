//! Every detection rule against the real Neo4j: fixture traces written by the
//! real `GraphWriter`, a known answer (what must fire) and a near-miss (what
//! looks alike and must not), all in one evaluation. Plus the detector's
//! graph side: findings are idempotent, positions survive, late traces are seen.
//!
//! Each test writes into a namespace of its own (project, domain and trace
//! ids prefixed with a unique run id) and asks the rules only about its own
//! projects, so tests share the server with everyone else.
//! Skips when NEO4J_URI is unset; fails then with NEO4J_REQUIRED=1.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use trace_graph::detect::{self, Candidate, RuleSettings};
use trace_graph::{GraphConfig, GraphWriter, TraceContext, TraceRecord};

/// 2024-06-03T00:00:00Z, a Monday.
const MONDAY: i64 = 1_717_372_800_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;

struct Ns {
    writer: GraphWriter,
    ns: String,
}

async fn setup(test: &str) -> Option<Ns> {
    let uri = match std::env::var("NEO4J_URI") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            assert!(
                std::env::var("NEO4J_REQUIRED").as_deref() != Ok("1"),
                "{test}: NEO4J_REQUIRED=1 but NEO4J_URI is not set"
            );
            eprintln!("{test}: skipped: NEO4J_URI not set");
            return None;
        }
    };
    let config = GraphConfig::new(
        uri,
        std::env::var("NEO4J_USER").unwrap_or_else(|_| "neo4j".into()),
        std::env::var("NEO4J_PASSWORD").unwrap_or_default(),
    );
    let writer = GraphWriter::connect(config).await.expect("connect");
    writer.ensure_schema().await.expect("schema");
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let ns = format!(
        "dt{:x}{}-",
        nanos % 0xffff_ffff_ffff,
        N.fetch_add(1, Ordering::Relaxed)
    );
    Some(Ns { writer, ns })
}

/// A trace: `id` (prefixed), `time` in ms, `user`, `service`, `name`; `more` is merged in.
fn t(id: &str, time: i64, user: &str, service: &str, name: &str, more: Value) -> (String, Value) {
    let mut v = json!({
        "trace_id": id,
        "time": time,
        "trace_name": name,
        "trace_rating": "normal",
        "trace_type": "ApiCall",
        "service_type": service,
        "resource_type": "thing",
        "resource_id": format!("res-{id}"),
        "resource_name": format!("res-{id}"),
        "source_ip": "198.51.100.1",
        "code": "200",
        "user": {"name": user, "domain": {"id": "dom", "name": "acme"}},
    });
    if let Value::Object(m) = more {
        for (k, x) in m {
            if x.is_null() {
                v.as_object_mut().expect("ok").remove(&k);
            } else {
                v[k.as_str()] = x;
            }
        }
    }
    ("p1".to_owned(), v)
}

/// The same trace in project `p2`.
fn in_p2((_, v): (String, Value)) -> (String, Value) {
    ("p2".to_owned(), v)
}

impl Ns {
    fn projects(&self) -> Vec<String> {
        vec![format!("{}p1", self.ns), format!("{}p2", self.ns)]
    }

    fn id(&self, id: &str) -> String {
        format!("{}{id}", self.ns)
    }

    async fn write(&self, traces: Vec<(String, Value)>) {
        let records: Vec<TraceRecord> = traces
            .into_iter()
            .map(|(project, mut v)| {
                let ns = &self.ns;
                v["trace_id"] =
                    Value::String(format!("{ns}{}", v["trace_id"].as_str().expect("ok")));
                for user in ["user"] {
                    if let Some(d) = v[user]["domain"]["id"].as_str().map(str::to_owned) {
                        v[user]["domain"]["id"] = Value::String(format!("{ns}{d}"));
                    }
                }
                if let Some(d) = v["user"]["assumedBy"]["user"]["domain"]["id"]
                    .as_str()
                    .map(str::to_owned)
                {
                    v["user"]["assumedBy"]["user"]["domain"]["id"] =
                        Value::String(format!("{ns}{d}"));
                }
                let trace: cts_client::Trace = serde_json::from_value(v).expect("trace");
                let mut ctx = TraceContext::new(format!("{ns}{project}"), "eu-de");
                ctx.domain_id = Some(format!("{ns}dom"));
                ctx.domain_name = Some("acme".to_owned());
                TraceRecord::new(trace, ctx)
            })
            .collect();
        let report = self.writer.write(&records).await.expect("write");
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    }

    /// A position after everything written so far.
    async fn mark(&self) -> i64 {
        let now = detect::db_now_ms(&self.writer).await.expect("now");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        now + 1
    }

    async fn run(&self, rule: &str, since: i64, settings: &RuleSettings) -> Vec<Candidate> {
        let r = detect::find(rule).expect("rule");
        detect::evaluate(&self.writer, r, settings, since, &self.projects())
            .await
            .unwrap_or_else(|e| panic!("{rule}: {e}"))
    }

    /// The sets of (unprefixed) trace ids of each candidate.
    fn evidence(&self, found: &[Candidate]) -> BTreeSet<Vec<String>> {
        found
            .iter()
            .map(|c| {
                let mut ids: Vec<String> = c
                    .actions
                    .iter()
                    .map(|a| a.strip_prefix(&self.ns).unwrap_or(a).to_owned())
                    .collect();
                ids.sort();
                ids
            })
            .collect()
    }
}

fn set(items: &[&[&str]]) -> BTreeSet<Vec<String>> {
    items
        .iter()
        .map(|ids| {
            let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
            v.sort();
            v
        })
        .collect()
}

macro_rules! ns {
    ($name:literal) => {
        match setup($name).await {
            Some(ns) => ns,
            None => return,
        }
    };
}

#[tokio::test]
async fn audit_trail_tampered() {
    let n = ns!("audit_trail_tampered");
    let tracker =
        json!({"resource_type": "tracker", "resource_id": "system", "resource_name": "system"});
    n.write(vec![t(
        "old-del",
        MONDAY,
        "eve",
        "CTS",
        "deleteTracker",
        tracker.clone(),
    )])
    .await;
    let since = n.mark().await;
    n.write(vec![
        t(
            "upd",
            MONDAY + HOUR,
            "eve",
            "CTS",
            "updateTracker",
            json!({"request": "{\"status\":\"disabled\"}", "resource_type": "tracker"}),
        ),
        t(
            "del",
            MONDAY + 2 * HOUR,
            "eve",
            "CTS",
            "deleteTracker",
            json!({"trace_rating": "warning", "code": "403", "resource_type": "tracker"}),
        ),
        // Near-misses: creating a tracker, and updateTracker of another service.
        t(
            "create",
            MONDAY + HOUR,
            "eve",
            "CTS",
            "createTracker",
            tracker.clone(),
        ),
        t(
            "other",
            MONDAY + HOUR,
            "eve",
            "LTS",
            "updateTracker",
            tracker,
        ),
    ])
    .await;
    let found = n
        .run("audit-trail-tampered", since, &RuleSettings::default())
        .await;
    assert_eq!(n.evidence(&found), set(&[&["upd"], &["del"]]), "{found:?}");
    let refused = found.iter().find(|c| c.key == n.id("del")).expect("del");
    assert!(refused.summary.contains("(refused)"), "{}", refused.summary);
    assert_eq!(refused.users, vec!["eve"]);
}

#[tokio::test]
async fn new_source_ip() {
    let n = ns!("new_source_ip");
    let ip = |a: &str| json!({"source_ip": a});
    n.write(vec![
        t(
            "h1",
            MONDAY,
            "alice",
            "ECS",
            "startServer",
            ip("203.0.113.1"),
        ),
        t("h2", MONDAY, "bob", "ECS", "startServer", ip("203.0.113.2")),
    ])
    .await;
    let since = n.mark().await;
    n.write(vec![
        // alice from a new IP (twice: one finding with both actions).
        t(
            "a1",
            MONDAY + HOUR,
            "alice",
            "IAM",
            "login",
            json!({"source_ip": "192.0.2.77", "trace_type": "ConsoleAction"}),
        ),
        t(
            "a2",
            MONDAY + 2 * HOUR,
            "alice",
            "ECS",
            "stopServer",
            ip("192.0.2.77"),
        ),
        // Near-misses: bob from his known IP; carol has no history; a system action.
        t(
            "b1",
            MONDAY + HOUR,
            "bob",
            "ECS",
            "stopServer",
            ip("203.0.113.2"),
        ),
        t(
            "c1",
            MONDAY + HOUR,
            "carol",
            "ECS",
            "stopServer",
            ip("192.0.2.99"),
        ),
        t(
            "s1",
            MONDAY + HOUR,
            "alice",
            "AS",
            "executeScalingPolicy",
            json!({"trace_type": "SystemAction", "source_ip": "192.0.2.55"}),
        ),
    ])
    .await;
    let found = n
        .run("new-source-ip", since, &RuleSettings::default())
        .await;
    assert_eq!(n.evidence(&found), set(&[&["a1", "a2"]]), "{found:?}");
    assert_eq!(found[0].ips, vec!["192.0.2.77"]);
    // A later run: the IP is known now, nothing new fires.
    let since2 = n.mark().await;
    n.write(vec![t(
        "a3",
        MONDAY + 3 * HOUR,
        "alice",
        "ECS",
        "startServer",
        ip("192.0.2.77"),
    )])
    .await;
    assert!(n
        .run("new-source-ip", since2, &RuleSettings::default())
        .await
        .is_empty());
}

#[tokio::test]
async fn login_failures_then_success() {
    let n = ns!("login_failures_then_success");
    let console = |ok: bool| {
        json!({"trace_type": "ConsoleAction", "resource_type": "user",
               "trace_rating": if ok { "normal" } else { "warning" }, "code": if ok { "200" } else { "401" }})
    };
    let since = n.mark().await;
    n.write(vec![
        // alice: loginfailed ×2 + a failed login, then success 4 minutes later: fires.
        t(
            "f1",
            MONDAY + 9 * HOUR,
            "alice",
            "IAM",
            "loginfailed",
            console(false),
        ),
        t(
            "f2",
            MONDAY + 9 * HOUR + MIN,
            "alice",
            "IAM",
            "loginFailed",
            console(false),
        ),
        t(
            "f3",
            MONDAY + 9 * HOUR + 2 * MIN,
            "alice",
            "IAM",
            "login",
            console(false),
        ),
        t(
            "ok",
            MONDAY + 9 * HOUR + 4 * MIN,
            "alice",
            "IAM",
            "login",
            console(true),
        ),
        // Near-miss: bob fails twice only; dave fails 3 times but an hour before.
        t(
            "bf1",
            MONDAY + 9 * HOUR,
            "bob",
            "IAM",
            "loginfailed",
            console(false),
        ),
        t(
            "bf2",
            MONDAY + 9 * HOUR + MIN,
            "bob",
            "IAM",
            "loginfailed",
            console(false),
        ),
        t(
            "bok",
            MONDAY + 9 * HOUR + 2 * MIN,
            "bob",
            "IAM",
            "login",
            console(true),
        ),
        t(
            "df1",
            MONDAY + 8 * HOUR,
            "dave",
            "IAM",
            "loginfailed",
            console(false),
        ),
        t(
            "df2",
            MONDAY + 8 * HOUR,
            "dave",
            "IAM",
            "loginfailed",
            console(false),
        ),
        t(
            "df3",
            MONDAY + 8 * HOUR,
            "dave",
            "IAM",
            "loginfailed",
            console(false),
        ),
        t(
            "dok",
            MONDAY + 9 * HOUR,
            "dave",
            "IAM",
            "login",
            console(true),
        ),
    ])
    .await;
    let found = n
        .run(
            "login-failures-then-success",
            since,
            &RuleSettings::default(),
        )
        .await;
    assert_eq!(
        n.evidence(&found),
        set(&[&["f1", "f2", "f3", "ok"]]),
        "{found:?}"
    );
    // Tuned: two failures are enough for bob; a two-hour window catches dave.
    let mut s = RuleSettings::default();
    s.set("login-failures-then-success", "failures", "2")
        .expect("ok");
    s.set("login-failures-then-success", "window_secs", "7200")
        .expect("ok");
    let found = n.run("login-failures-then-success", since, &s).await;
    assert_eq!(
        n.evidence(&found),
        set(&[
            &["f1", "f2", "f3", "ok"],
            &["bf1", "bf2", "bok"],
            &["df1", "df2", "df3", "dok"]
        ]),
    );
}

#[tokio::test]
async fn access_key_new_ip() {
    let n = ns!("access_key_new_ip");
    let ak = json!({"resource_type": "credential", "resource_id": "AKEXAMPLE0000000001", "resource_name": "AKEXAMPLE0000000001", "source_ip": "203.0.113.1", "trace_type": "ConsoleAction"});
    n.write(vec![
        t(
            "h",
            MONDAY,
            "alice",
            "ECS",
            "startServer",
            json!({"source_ip": "203.0.113.1"}),
        ),
        t(
            "hb",
            MONDAY,
            "bob",
            "ECS",
            "startServer",
            json!({"source_ip": "203.0.113.2"}),
        ),
        t(
            "ak",
            MONDAY + HOUR,
            "alice",
            "IAM",
            "createCredential",
            ak.clone(),
        ),
        t(
            "akb",
            MONDAY + HOUR,
            "bob",
            "IAM",
            "createCredential",
            ak.clone(),
        ),
        t("akc", MONDAY + HOUR, "carol", "IAM", "createCredential", ak),
    ])
    .await;
    let since = n.mark().await;
    n.write(vec![
        // alice uses the API from a new IP 2 hours later: fires.
        t(
            "use",
            MONDAY + 3 * HOUR,
            "alice",
            "ECS",
            "createServer",
            json!({"source_ip": "192.0.2.10"}),
        ),
        // Near-misses: bob uses it from his known IP; carol from a new IP but 3 days later.
        t(
            "useb",
            MONDAY + 3 * HOUR,
            "bob",
            "ECS",
            "createServer",
            json!({"source_ip": "203.0.113.2"}),
        ),
        t(
            "usec",
            MONDAY + 80 * HOUR,
            "carol",
            "ECS",
            "createServer",
            json!({"source_ip": "192.0.2.11"}),
        ),
    ])
    .await;
    let found = n
        .run("access-key-new-ip", since, &RuleSettings::default())
        .await;
    assert_eq!(n.evidence(&found), set(&[&["ak", "use"]]), "{found:?}");
    assert_eq!(found[0].resources, vec!["AKEXAMPLE0000000001"]);
    assert_eq!(found[0].ips, vec!["192.0.2.10"]);
}

#[tokio::test]
async fn iam_grant_off_hours() {
    let n = ns!("iam_grant_off_hours");
    let since = n.mark().await;
    n.write(vec![
        t(
            "night",
            MONDAY + 23 * HOUR,
            "alice",
            "IAM",
            "assignRoleToAgencyOnProject",
            json!({}),
        ),
        t(
            "saturday",
            MONDAY + 5 * 24 * HOUR + 10 * HOUR,
            "alice",
            "IAM",
            "addUserToGroup",
            json!({}),
        ),
        // Near-misses: the same at 10:00 on Monday; a non-grant at night; a refused grant at night.
        t(
            "day",
            MONDAY + 10 * HOUR,
            "alice",
            "IAM",
            "assignRoleToAgencyOnProject",
            json!({}),
        ),
        t(
            "nightread",
            MONDAY + 23 * HOUR,
            "alice",
            "IAM",
            "listUsers",
            json!({}),
        ),
        t(
            "refused",
            MONDAY + 23 * HOUR,
            "alice",
            "IAM",
            "addUserToGroup",
            json!({"code": "403"}),
        ),
    ])
    .await;
    let found = n
        .run("iam-grant-off-hours", since, &RuleSettings::default())
        .await;
    assert_eq!(
        n.evidence(&found),
        set(&[&["night"], &["saturday"]]),
        "{found:?}"
    );
    // In Berlin (UTC+2 in June) 19:00Z is 21:00: off-hours there, not in UTC.
    n.write(vec![t(
        "berlin",
        MONDAY + 19 * HOUR,
        "alice",
        "IAM",
        "createRole",
        json!({}),
    )])
    .await;
    let mut s = RuleSettings::default();
    s.set("iam-grant-off-hours", "tz", "Europe/Berlin")
        .expect("ok");
    s.set("iam-grant-off-hours", "weekends", "0").expect("ok");
    let found = n.run("iam-grant-off-hours", since, &s).await;
    assert_eq!(
        n.evidence(&found),
        set(&[&["night"], &["berlin"]]),
        "{found:?}"
    );
    assert!(
        n.run("iam-grant-off-hours", since, &RuleSettings::default())
            .await
            .len()
            == 2
    );
}

#[tokio::test]
async fn agency_to_other_domain() {
    let n = ns!("agency_to_other_domain");
    let since = n.mark().await;
    let own = format!("{}dom", n.ns);
    n.write(vec![
        t("foreign", MONDAY, "alice", "IAM", "createAgency", json!({"request": {"agency": {"name": "partner", "domain_id": own, "trust_domain_id": "ffff0000", "trust_domain_name": "partner-ä-domain"}}})),
        t("byname", MONDAY, "alice", "IAM", "updateAgency", json!({"request": "{\"agency\": {\"trust_domain_name\" : \"evil\"}}"})),
        // Near-misses: towards a cloud service; towards the own domain; a refused attempt.
        t("svc", MONDAY, "alice", "IAM", "createAgency", json!({"request": {"agency": {"name": "evs", "trust_domain_name": "op_svc_evs"}}})),
        t("self", MONDAY, "alice", "IAM", "createAgency", json!({"request": {"agency": {"name": "x", "trust_domain_id": own}}})),
        t("refused", MONDAY, "alice", "IAM", "createAgency", json!({"code": "403", "request": {"agency": {"trust_domain_id": "ffff0000"}}})),
    ])
    .await;
    let found = n
        .run("agency-to-other-domain", since, &RuleSettings::default())
        .await;
    assert_eq!(
        n.evidence(&found),
        set(&[&["foreign"], &["byname"]]),
        "{found:?}"
    );
    assert!(
        found.iter().any(|c| c.summary.contains("partner-ä-domain")),
        "{found:?}"
    );
}

#[tokio::test]
async fn mass_deletion() {
    let n = ns!("mass_deletion");
    // 18 deletions by alice in the 10:00-10:05 window before the position.
    let mut old = Vec::new();
    for i in 0..18 {
        old.push(t(
            &format!("o{i}"),
            MONDAY + 10 * HOUR + i * 1000,
            "alice",
            "ECS",
            "deleteServer",
            json!({}),
        ));
    }
    n.write(old).await;
    let since = n.mark().await;
    let mut new = vec![
        t(
            "n1",
            MONDAY + 10 * HOUR + 60_000,
            "alice",
            "EVS",
            "deleteVolume",
            json!({}),
        ),
        t(
            "n2",
            MONDAY + 10 * HOUR + 61_000,
            "alice",
            "KMS",
            "scheduleKeyDeletion",
            json!({}),
        ),
    ];
    // Near-misses: bob deletes 19 in one window; alice's refused deletions; alice's 19
    // deletions spread over two windows; the platform deleting 30 snapshots.
    for i in 0..19 {
        new.push(t(
            &format!("b{i}"),
            MONDAY + 10 * HOUR + i * 1000,
            "bob",
            "ECS",
            "deleteServer",
            json!({}),
        ));
        new.push(t(
            &format!("r{i}"),
            MONDAY + 10 * HOUR + i * 1000,
            "alice",
            "ECS",
            "deleteServer",
            json!({"code": "409", "trace_rating": "warning"}),
        ));
        new.push(t(
            &format!("s{i}"),
            MONDAY + 12 * HOUR + 4 * MIN + i * 10_000,
            "alice",
            "ECS",
            "deleteServer",
            json!({}),
        ));
    }
    for i in 0..30 {
        new.push(t(
            &format!("sys{i}"),
            MONDAY + 10 * HOUR + i * 1000,
            "",
            "EVS",
            "deleteExpiredSnapshot",
            json!({"user": null, "trace_type": "SystemAction", "source_ip": null}),
        ));
    }
    n.write(new).await;
    let found = n
        .run("mass-deletion", since, &RuleSettings::default())
        .await;
    assert_eq!(found.len(), 1, "{found:?}");
    let ids = n.evidence(&found).into_iter().next().expect("ok");
    assert_eq!(ids.len(), 20);
    assert!(ids.contains(&"n1".to_owned()) && ids.contains(&"o0".to_owned()));
    assert!(
        found[0].summary.contains("deleted 20 resources"),
        "{}",
        found[0].summary
    );
    // Same situation, same key, whatever the position: a rerun over everything agrees.
    let again = n.run("mass-deletion", 0, &RuleSettings::default()).await;
    assert_eq!(
        again.iter().map(|c| &c.key).collect::<Vec<_>>(),
        vec![&found[0].key]
    );
    // Tuned down to 19, bob's burst fires too.
    let mut s = RuleSettings::default();
    s.set("mass-deletion", "threshold", "19").expect("ok");
    assert_eq!(n.run("mass-deletion", since, &s).await.len(), 2);
}

#[tokio::test]
async fn security_group_open_world() {
    let n = ns!("security_group_open_world");
    let since = n.mark().await;
    let rule = |prefix: &str, dir: &str| json!({"resource_type": "security_group", "request": {"security_group_rule": {"direction": dir, "protocol": "tcp", "port_range_min": 22, "remote_ip_prefix": prefix}}});
    n.write(vec![
        t(
            "v4",
            MONDAY,
            "alice",
            "VPC",
            "createSecurityGroupRule",
            rule("0.0.0.0/0", "ingress"),
        ),
        t(
            "v6",
            MONDAY,
            "alice",
            "VPC",
            "createSecurityGroupRule",
            rule("::/0", "ingress"),
        ),
        // Near-misses: a private range; egress to anywhere; a refused attempt.
        t(
            "private",
            MONDAY,
            "alice",
            "VPC",
            "createSecurityGroupRule",
            rule("10.0.0.0/8", "ingress"),
        ),
        t(
            "egress",
            MONDAY,
            "alice",
            "VPC",
            "createSecurityGroupRule",
            rule("0.0.0.0/0", "egress"),
        ),
        t(
            "refused",
            MONDAY,
            "alice",
            "VPC",
            "createSecurityGroupRule",
            {
                let mut r = rule("0.0.0.0/0", "ingress");
                r["code"] = json!("403");
                r
            },
        ),
    ])
    .await;
    let found = n
        .run("security-group-open-world", since, &RuleSettings::default())
        .await;
    assert_eq!(n.evidence(&found), set(&[&["v4"], &["v6"]]), "{found:?}");
}

#[tokio::test]
async fn obs_bucket_public() {
    let n = ns!("obs_bucket_public");
    let since = n.mark().await;
    let b = |req: Value| json!({"resource_type": "bucket", "request": req});
    n.write(vec![
        t("acl", MONDAY, "alice", "OBS", "setBucketAcl", b(json!({"x-obs-acl": "public-read"}))),
        t("everyone", MONDAY, "alice", "OBS", "setBucketAcl", b(json!({"AccessControlList": {"Grant": [{"Grantee": {"Canned": "Everyone"}, "Permission": "READ"}]}}))),
        t("policy", MONDAY, "alice", "OBS", "setBucketPolicy", b(json!({"Statement": [{"Effect": "Allow", "Principal": {"ID": ["*"]}, "Action": ["GetObject"]}]}))),
        // Near-misses: private ACL; a policy for one account; public-read on another service.
        t("private", MONDAY, "alice", "OBS", "setBucketAcl", b(json!({"x-obs-acl": "private"}))),
        t("one", MONDAY, "alice", "OBS", "setBucketPolicy", b(json!({"Statement": [{"Principal": {"ID": ["domain/0a1b"]}}]}))),
        t("ims", MONDAY, "alice", "IMS", "setBucketAcl", b(json!({"x-obs-acl": "public-read"}))),
    ])
    .await;
    let found = n
        .run("obs-bucket-public", since, &RuleSettings::default())
        .await;
    assert_eq!(
        n.evidence(&found),
        set(&[&["acl"], &["everyone"], &["policy"]]),
        "{found:?}"
    );
}

#[tokio::test]
async fn kms_key_deletion_and_disabling() {
    let n = ns!("kms_key_deletion_and_disabling");
    let since = n.mark().await;
    let cmk = json!({"resource_type": "cmk"});
    n.write(vec![
        t(
            "sched",
            MONDAY,
            "alice",
            "KMS",
            "scheduleKeyDeletion",
            cmk.clone(),
        ),
        t("disable", MONDAY, "alice", "KMS", "disableKey", cmk.clone()),
        // Near-misses: cancelling, enabling, a refused schedule.
        t(
            "cancel",
            MONDAY,
            "alice",
            "KMS",
            "cancelKeyDeletion",
            cmk.clone(),
        ),
        t("enable", MONDAY, "alice", "KMS", "enableKey", cmk),
        t(
            "refused",
            MONDAY,
            "alice",
            "KMS",
            "scheduleKeyDeletion",
            json!({"code": "403"}),
        ),
    ])
    .await;
    let s = RuleSettings::default();
    assert_eq!(
        n.evidence(&n.run("kms-key-deletion", since, &s).await),
        set(&[&["sched"]])
    );
    assert_eq!(
        n.evidence(&n.run("kms-key-disabled", since, &s).await),
        set(&[&["disable"]])
    );
}

#[tokio::test]
async fn first_project_for_user() {
    let n = ns!("first_project_for_user");
    n.write(vec![
        t("h", MONDAY, "alice", "ECS", "startServer", json!({})),
        t("hb", MONDAY, "bob", "ECS", "startServer", json!({})),
        in_p2(t("hb2", MONDAY, "bob", "ECS", "startServer", json!({}))),
    ])
    .await;
    let since = n.mark().await;
    n.write(vec![
        in_p2(t(
            "a2",
            MONDAY + HOUR,
            "alice",
            "ECS",
            "stopServer",
            json!({}),
        )),
        // Near-misses: alice in her usual project; bob in p2 again; carol is new altogether.
        t("a1", MONDAY + HOUR, "alice", "ECS", "stopServer", json!({})),
        in_p2(t(
            "b2",
            MONDAY + HOUR,
            "bob",
            "ECS",
            "stopServer",
            json!({}),
        )),
        in_p2(t(
            "c2",
            MONDAY + HOUR,
            "carol",
            "ECS",
            "stopServer",
            json!({}),
        )),
    ])
    .await;
    let found = n
        .run("first-project-for-user", since, &RuleSettings::default())
        .await;
    assert_eq!(n.evidence(&found), set(&[&["a2"]]), "{found:?}");
    assert!(found[0].summary.contains(&format!("{}p2", n.ns)));
}

#[tokio::test]
async fn repeated_access_denied() {
    let n = ns!("repeated_access_denied");
    let since = n.mark().await;
    let mut traces = Vec::new();
    for i in 0..10 {
        traces.push(t(
            &format!("a{i}"),
            MONDAY + 10 * HOUR + i * 20_000,
            "alice",
            "ECS",
            "deleteServer",
            json!({"code": "403", "trace_rating": "warning"}),
        ));
        // Near-misses: bob gets 9 refusals; carol 10 answers of 404.
        if i < 9 {
            traces.push(t(
                &format!("b{i}"),
                MONDAY + 10 * HOUR + i * 20_000,
                "bob",
                "ECS",
                "deleteServer",
                json!({"code": "403"}),
            ));
        }
        traces.push(t(
            &format!("c{i}"),
            MONDAY + 10 * HOUR + i * 20_000,
            "carol",
            "ECS",
            "deleteServer",
            json!({"code": "404"}),
        ));
    }
    n.write(traces).await;
    let found = n
        .run("repeated-access-denied", since, &RuleSettings::default())
        .await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].users, vec!["alice"]);
    assert_eq!(found[0].actions.len(), 10);
}

#[tokio::test]
async fn cross_domain_agency_use() {
    let n = ns!("cross_domain_agency_use");
    let assumed = |dom: &str| {
        json!({"user": {"name": "ops-agency/bob", "domain": {"id": "dom", "name": "acme"},
                         "assumedBy": {"user": {"name": "bob", "id": "b0b", "domain": {"id": dom, "name": "partner"}}}}})
    };
    n.write(vec![t(
        "old",
        MONDAY,
        "x",
        "ECS",
        "startServer",
        assumed("partnerdom"),
    )])
    .await;
    let since = n.mark().await;
    n.write(vec![
        in_p2(t(
            "p2",
            MONDAY + HOUR,
            "x",
            "ECS",
            "startServer",
            assumed("partnerdom"),
        )),
        // Near-misses: the same person in p1 again; a person of the own domain behind an agency.
        t(
            "again",
            MONDAY + HOUR,
            "x",
            "ECS",
            "stopServer",
            assumed("partnerdom"),
        ),
        in_p2(t(
            "own",
            MONDAY + HOUR,
            "x",
            "ECS",
            "stopServer",
            assumed("dom"),
        )),
    ])
    .await;
    let found = n
        .run("cross-domain-agency-use", since, &RuleSettings::default())
        .await;
    assert_eq!(n.evidence(&found), set(&[&["p2"]]), "{found:?}");
    assert_eq!(found[0].users, vec!["bob"]);
}

#[tokio::test]
async fn many_source_ips() {
    let n = ns!("many_source_ips");
    let since = n.mark().await;
    let mut traces = Vec::new();
    for i in 0..5 {
        let ip = json!({"source_ip": format!("192.0.2.{}", 10 + i)});
        traces.push(t(
            &format!("a{i}"),
            MONDAY + 10 * HOUR + i * MIN,
            "alice",
            "ECS",
            "startServer",
            ip.clone(),
        ));
        traces.push(t(
            &format!("a{i}x"),
            MONDAY + 10 * HOUR + i * MIN + 1000,
            "alice",
            "ECS",
            "startServer",
            ip,
        ));
        // Near-miss: bob acts 10 times but from 4 addresses only.
        for k in 0..2 {
            let ip = json!({"source_ip": format!("192.0.2.{}", 50 + (i + k) % 4)});
            traces.push(t(
                &format!("b{i}{k}"),
                MONDAY + 10 * HOUR + i * MIN + k * 1000,
                "bob",
                "ECS",
                "startServer",
                ip,
            ));
        }
    }
    n.write(traces).await;
    let found = n
        .run("many-source-ips", since, &RuleSettings::default())
        .await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].users, vec!["alice"]);
    assert_eq!(found[0].ips.len(), 5);
    assert_eq!(n.evidence(&found), set(&[&["a0", "a1", "a2", "a3", "a4"]]));
}

#[tokio::test]
async fn mfa_device_unbound() {
    let n = ns!("mfa_device_unbound");
    let since = n.mark().await;
    n.write(vec![
        t(
            "unbind",
            MONDAY,
            "alice",
            "IAM",
            "UnBindMFA",
            json!({"resource_type": "MFA"}),
        ),
        // Near-misses: binding one; the same name on another service.
        t(
            "bind",
            MONDAY,
            "alice",
            "IAM",
            "BindMFA",
            json!({"resource_type": "MFA"}),
        ),
        t("other", MONDAY, "alice", "ECS", "UnBindMFA", json!({})),
    ])
    .await;
    let found = n
        .run("mfa-device-unbound", since, &RuleSettings::default())
        .await;
    assert_eq!(n.evidence(&found), set(&[&["unbind"]]), "{found:?}");
}

/// The position is a store time: a trace with an old `time` stored after the
/// position is new; one stored before it is not, whatever its `time`.
#[tokio::test]
async fn late_traces_are_seen_and_old_ones_are_not_new() {
    let n = ns!("late_traces_are_seen");
    n.write(vec![t(
        "before",
        MONDAY + 5 * 365 * 24 * HOUR,
        "alice",
        "KMS",
        "scheduleKeyDeletion",
        json!({}),
    )])
    .await;
    let since = n.mark().await;
    // Stored now, happened in 2019.
    n.write(vec![t(
        "late",
        MONDAY - 5 * 365 * 24 * HOUR,
        "alice",
        "KMS",
        "scheduleKeyDeletion",
        json!({}),
    )])
    .await;
    let found = n
        .run("kms-key-deletion", since, &RuleSettings::default())
        .await;
    assert_eq!(n.evidence(&found), set(&[&["late"]]));
    // Writing the same traces again stores nothing new, so nothing is new after a later mark.
    let since2 = n.mark().await;
    n.write(vec![t(
        "late",
        MONDAY - 5 * 365 * 24 * HOUR,
        "alice",
        "KMS",
        "scheduleKeyDeletion",
        json!({}),
    )])
    .await;
    assert!(n
        .run("kms-key-deletion", since2, &RuleSettings::default())
        .await
        .is_empty());
}

/// Findings: recorded once whatever the reruns, linked to their actions,
/// unsent until marked, never handed out again after; positions persist and never go back.
#[tokio::test]
async fn findings_are_idempotent_and_positions_persist() {
    let n = ns!("findings_are_idempotent");
    let since = n.mark().await;
    n.write(vec![
        t(
            "k1",
            MONDAY,
            "alice",
            "KMS",
            "scheduleKeyDeletion",
            json!({}),
        ),
        t("k2", MONDAY, "bob", "KMS", "scheduleKeyDeletion", json!({})),
    ])
    .await;
    let rule = detect::find("kms-key-deletion").expect("ok");
    let detector = format!("{}detector", n.ns);
    let found = n.run(rule.name, since, &RuleSettings::default()).await;
    assert_eq!(
        detect::record(&n.writer, &detector, rule, &found)
            .await
            .expect("ok"),
        2
    );
    assert_eq!(
        detect::record(&n.writer, &detector, rule, &found)
            .await
            .expect("ok"),
        0
    );
    let pending = detect::unsent(&n.writer, &detector, 100).await.expect("ok");
    assert_eq!(pending.len(), 2);
    let first = &pending[0];
    assert_eq!(first.id, detect::finding_id(rule.name, &first.key));
    assert_eq!(first.severity, "high");
    assert!(first.created_at.starts_with("20"), "{}", first.created_at);
    detect::mark_sent(&n.writer, &first.id).await.expect("ok");
    let pending2 = detect::unsent(&n.writer, &detector, 100).await.expect("ok");
    assert_eq!(pending2.len(), 1);
    assert_ne!(pending2[0].id, first.id);
    // Found again later (overlap): no new finding, the sent one stays sent.
    let again = n.run(rule.name, since, &RuleSettings::default()).await;
    assert_eq!(
        detect::record(&n.writer, &detector, rule, &again)
            .await
            .expect("ok"),
        0
    );
    assert_eq!(
        detect::unsent(&n.writer, &detector, 100)
            .await
            .expect("ok")
            .len(),
        1
    );
    // Evidence: the finding points at its action.
    let graph = neo4rs::Graph::new(
        std::env::var("NEO4J_URI").expect("ok").as_str(),
        std::env::var("NEO4J_USER")
            .unwrap_or_else(|_| "neo4j".into())
            .as_str(),
        std::env::var("NEO4J_PASSWORD").unwrap_or_default().as_str(),
    )
    .expect("ok");
    let mut rows = graph
        .execute(
            neo4rs::query(
                "MATCH (f:Finding {id: $id})-[:EVIDENCE]->(a:Action) RETURN a.traceId AS t",
            )
            .param("id", first.id.as_str()),
        )
        .await
        .expect("ok");
    let row = rows.next().await.expect("ok").expect("an evidence link");
    assert_eq!(row.get::<String>("t").expect("ok"), first.actions[0]);
    // Positions.
    assert_eq!(
        detect::load_position(&n.writer, &detector)
            .await
            .expect("ok"),
        None
    );
    detect::save_position(&n.writer, &detector, 2_000)
        .await
        .expect("ok");
    detect::save_position(&n.writer, &detector, 1_000)
        .await
        .expect("ok");
    assert_eq!(
        detect::load_position(&n.writer, &detector)
            .await
            .expect("ok"),
        Some(2_000)
    );
    // Cleanup of this test's own findings and detector.
    graph
        .run(neo4rs::query("MATCH (n) WHERE (n:Finding AND n.detector = $d) OR (n:Detector AND n.name = $d) DETACH DELETE n").param("d", detector.as_str()))
        .await
        .expect("ok");
}

/// Hostile values travel as parameters: a rule's output keeps them verbatim.
#[tokio::test]
async fn hostile_values_are_kept_verbatim() {
    let n = ns!("hostile_values");
    let since = n.mark().await;
    let evil = "k' }) DETACH DELETE n //\u{1F600}名前";
    let long = "x".repeat(10_000);
    n.write(vec![
        t(
            "e1",
            MONDAY,
            evil,
            "KMS",
            "scheduleKeyDeletion",
            json!({"resource_name": evil}),
        ),
        t(
            "e2",
            MONDAY,
            &long,
            "KMS",
            "scheduleKeyDeletion",
            json!({"resource_name": long}),
        ),
    ])
    .await;
    let found = n
        .run("kms-key-deletion", since, &RuleSettings::default())
        .await;
    assert_eq!(found.len(), 2);
    assert!(found
        .iter()
        .any(|c| c.users == vec![evil.to_owned()] && c.resources == vec![evil.to_owned()]));
    assert!(found.iter().any(|c| c.resources == vec![long.clone()]));
}

/// docs/detections.md holds, between its markers, exactly what
/// `detect::markdown()` generates; `DETECTIONS_BLESS=1` rewrites that part.
#[test]
fn docs_list_every_rule_as_it_runs() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/detections.md");
    let page = std::fs::read_to_string(&path).expect("read docs/detections.md");
    let (begin, end) = ("<!-- rules:begin -->\n", "<!-- rules:end -->");
    let start = page.find(begin).expect("begin marker") + begin.len();
    let stop = page.find(end).expect("end marker");
    let generated = detect::markdown();
    if std::env::var("DETECTIONS_BLESS").as_deref() == Ok("1") {
        let updated = format!("{}{generated}{}", &page[..start], &page[stop..]);
        std::fs::write(&path, updated).expect("write docs/detections.md");
        return;
    }
    assert!(
        page[start..stop] == generated,
        "docs/detections.md is out of date with trace_graph::detect::RULES; run \
         DETECTIONS_BLESS=1 cargo test -p trace-graph --test detect docs"
    );
}

/// The emulator's scenarios (`cts-emulator --scenarios`), written after a
/// story-mode background history, raise the rule they are named after, with
/// the scenario's own traces as evidence. The emulator shares no code with
/// the rules, so this checks the names of operations from two sides.
#[tokio::test]
async fn every_emulator_scenario_raises_its_rule() {
    use cts_emulator::generator::{Generator, Scenario, TenantSpec};
    use rand::SeedableRng;
    let n = ns!("emulator_scenarios");
    let now = MONDAY + 16 * HOUR;
    let mut traces = Vec::new();
    let mut scenario_ids: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (index, project) in ["p1", "p2"].into_iter().enumerate() {
        let mut g = Generator::new(
            11,
            TenantSpec::new("OTC-detect", format!("eu-de_{project}"), 24),
        );
        g.set_home(index, 2);
        for i in 0..400 {
            let v = g.next_trace(now - 20 * HOUR + i * 2 * MIN);
            traces.push((project.to_owned(), v));
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        for (k, s) in Scenario::ALL
            .iter()
            .filter(|s| s.project_index() == index)
            .enumerate()
        {
            let at = now - 2 * HOUR + k as i64 * 5 * MIN;
            for v in g.scenario_traces(*s, at, now, &mut rng) {
                scenario_ids
                    .entry(s.name())
                    .or_default()
                    .push(v["trace_id"].as_str().expect("id").to_owned());
                traces.push((project.to_owned(), v));
            }
        }
    }
    n.write(traces).await;
    let s = RuleSettings::default();
    for rule in detect::RULES {
        let ids = scenario_ids
            .get(rule.name)
            .unwrap_or_else(|| panic!("the emulator has no scenario for rule {}", rule.name));
        let found = n.run(rule.name, 0, &s).await;
        let hit = found.iter().any(|c| {
            c.actions
                .iter()
                .any(|a| ids.iter().any(|id| a == &format!("{}{id}", n.ns)))
        });
        assert!(
            hit,
            "rule {} did not fire on its scenario; found {found:?}",
            rule.name
        );
        // The story-mode background raises nothing on its own: every finding
        // holds a scenario's trace (the demo shows the scenarios, not noise).
        let planted = |a: &String| {
            scenario_ids
                .values()
                .flatten()
                .any(|id| a == &format!("{}{id}", n.ns))
        };
        for c in &found {
            assert!(
                c.actions.iter().any(planted),
                "rule {} fired on background traces only: {c:?}",
                rule.name
            );
        }
    }
}
