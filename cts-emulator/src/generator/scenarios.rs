//! Scenarios: short, hand-shaped sequences of traces that a detection rule
//! (docs/detections.md) or an investigation question (docs/queries.md)
//! should notice, added to a project's generated history on request
//! (`--scenarios`, seeded by `--seed`).
//!
//! The names are the detection rules' names, plus `stories` (the demo data
//! stories: an off-hours burst and a few incidents). When any scenario is
//! on, the generator also runs in "story mode": every user works in one home
//! project only and from one usual address, so the generated background
//! does not drown the scenarios (a first project, a new IP) in noise.
//!
//! The emulator shares no code with the detector: names of operations are
//! written here from cts-api.md, the OTC IAM documentation and the catalog.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use super::record::{Rating, TraceRecord, TraceType, TraceUser};
use super::resources::uuid_like;
use super::{Generator, UserKind, UserProfile};
use crate::ids::DomainInfo;

/// One scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// The CTS tracker disabled, then deleted.
    AuditTrailTampered,
    /// A user acting from an address never used before.
    NewSourceIp,
    /// Four failed console logins, then a successful one.
    LoginFailuresThenSuccess,
    /// An access key created, then used by API calls from a new address.
    AccessKeyNewIp,
    /// A role granted to an agency at 23:00 UTC.
    IamGrantOffHours,
    /// An agency created to trust a foreign domain.
    AgencyToOtherDomain,
    /// 25 resources deleted by one user in two minutes.
    MassDeletion,
    /// A security group rule allowing SSH from 0.0.0.0/0.
    SecurityGroupOpenWorld,
    /// A bucket ACL set to public-read.
    ObsBucketPublic,
    /// A KMS key scheduled for deletion.
    KmsKeyDeletion,
    /// A KMS key disabled.
    KmsKeyDisabled,
    /// A user acting in a second project (needs two projects).
    FirstProjectForUser,
    /// 12 answers of 403 for one technical user in four minutes.
    RepeatedAccessDenied,
    /// A person of a partner domain acting through an agency.
    CrossDomainAgencyUse,
    /// One user acting from six addresses within twenty minutes.
    ManySourceIps,
    /// An MFA device unbound.
    MfaDeviceUnbound,
    /// The demo stories: an off-hours burst (30 actions at 02:00 UTC) and a few incidents.
    Stories,
}

impl Scenario {
    /// Every scenario, in documentation order.
    pub const ALL: [Scenario; 17] = [
        Scenario::AuditTrailTampered,
        Scenario::NewSourceIp,
        Scenario::LoginFailuresThenSuccess,
        Scenario::AccessKeyNewIp,
        Scenario::IamGrantOffHours,
        Scenario::AgencyToOtherDomain,
        Scenario::MassDeletion,
        Scenario::SecurityGroupOpenWorld,
        Scenario::ObsBucketPublic,
        Scenario::KmsKeyDeletion,
        Scenario::KmsKeyDisabled,
        Scenario::FirstProjectForUser,
        Scenario::RepeatedAccessDenied,
        Scenario::CrossDomainAgencyUse,
        Scenario::ManySourceIps,
        Scenario::MfaDeviceUnbound,
        Scenario::Stories,
    ];

    /// The name on the command line (the detection rule's name).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::AuditTrailTampered => "audit-trail-tampered",
            Scenario::NewSourceIp => "new-source-ip",
            Scenario::LoginFailuresThenSuccess => "login-failures-then-success",
            Scenario::AccessKeyNewIp => "access-key-new-ip",
            Scenario::IamGrantOffHours => "iam-grant-off-hours",
            Scenario::AgencyToOtherDomain => "agency-to-other-domain",
            Scenario::MassDeletion => "mass-deletion",
            Scenario::SecurityGroupOpenWorld => "security-group-open-world",
            Scenario::ObsBucketPublic => "obs-bucket-public",
            Scenario::KmsKeyDeletion => "kms-key-deletion",
            Scenario::KmsKeyDisabled => "kms-key-disabled",
            Scenario::FirstProjectForUser => "first-project-for-user",
            Scenario::RepeatedAccessDenied => "repeated-access-denied",
            Scenario::CrossDomainAgencyUse => "cross-domain-agency-use",
            Scenario::ManySourceIps => "many-source-ips",
            Scenario::MfaDeviceUnbound => "mfa-device-unbound",
            Scenario::Stories => "stories",
        }
    }

    /// What the scenario generates, for `--scenarios list`.
    pub fn description(self) -> &'static str {
        match self {
            Scenario::AuditTrailTampered => {
                "the CTS tracker disabled (updateTracker), then deleted"
            }
            Scenario::NewSourceIp => "a user with history acting from an address never used before",
            Scenario::LoginFailuresThenSuccess => "4 x loginfailed, then login, within 5 minutes",
            Scenario::AccessKeyNewIp => {
                "createCredential, then API calls from a new address 30 min later"
            }
            Scenario::IamGrantOffHours => "assignRoleToAgencyOnProject at 23:00 UTC",
            Scenario::AgencyToOtherDomain => "createAgency trusting a foreign domain",
            Scenario::MassDeletion => "25 deleteServer/deleteVolume by one user in 2 minutes",
            Scenario::SecurityGroupOpenWorld => "createSecurityGroupRule: TCP 22 from 0.0.0.0/0",
            Scenario::ObsBucketPublic => "setBucketAcl public-read",
            Scenario::KmsKeyDeletion => "scheduleKeyDeletion of a key",
            Scenario::KmsKeyDisabled => "disableKey",
            Scenario::FirstProjectForUser => {
                "a user of the first project acting in the second one (needs 2 projects)"
            }
            Scenario::RepeatedAccessDenied => {
                "12 answers of 403 for one technical user in 4 minutes"
            }
            Scenario::CrossDomainAgencyUse => "a partner-domain person acting through an agency",
            Scenario::ManySourceIps => "one user acting from 6 addresses within 20 minutes",
            Scenario::MfaDeviceUnbound => "UnBindMFA",
            Scenario::Stories => "an off-hours burst (30 actions at 02:00 UTC) and 3 incidents",
        }
    }

    /// Parses `all`, `none`, or a comma-separated list of names.
    ///
    /// Errors: the unknown name and the known ones.
    pub fn parse_list(text: &str) -> Result<Vec<Scenario>, String> {
        let t = text.trim();
        if t.is_empty() || t == "none" {
            return Ok(Vec::new());
        }
        if t == "all" {
            return Ok(Scenario::ALL.to_vec());
        }
        let mut out = Vec::new();
        for part in t.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let s = Scenario::ALL
                .iter()
                .find(|s| s.name() == part)
                .ok_or_else(|| {
                    format!(
                        "unknown scenario `{part}`; use all, none, list, or names from: {}",
                        Scenario::ALL.map(Scenario::name).join(", ")
                    )
                })?;
            if !out.contains(s) {
                out.push(*s);
            }
        }
        Ok(out)
    }

    /// The project (index into the emulator's projects) the scenario is generated in.
    pub fn project_index(self) -> usize {
        match self {
            Scenario::FirstProjectForUser => 1,
            _ => 0,
        }
    }
}

const MIN: i64 = 60_000;

/// Builds one trace of a scenario.
struct Shape<'a> {
    service: &'a str,
    rtype: &'a str,
    name: &'a str,
    rid: String,
    rname: String,
    code: u16,
    rating: Rating,
    channel: TraceType,
    request: Option<Value>,
}

fn trace(
    g: &Generator,
    rng: &mut StdRng,
    t: i64,
    who: Option<&UserProfile>,
    ip: Option<&str>,
    s: Shape<'_>,
) -> TraceRecord {
    TraceRecord {
        trace_id: uuid_like(rng),
        trace_name: s.name.to_owned(),
        rating: s.rating,
        trace_type: if who.is_none() {
            TraceType::SystemAction
        } else {
            s.channel
        },
        service_type: s.service.to_owned(),
        resource_type: s.rtype.to_owned(),
        resource_url: format!("/v3/{}/{}/{}", g.project.id, s.rtype, s.rid),
        resource_id: s.rid,
        resource_name: s.rname,
        user: who.map(|u| TraceUser {
            id: u.id.clone(),
            name: u.name.clone(),
            domain: g.domain.clone(),
        }),
        assumed_by: None,
        source_ip: ip.map(str::to_owned),
        request_id: format!("{:032x}", rng.gen::<u128>()),
        code: s.code,
        api_version: "v3".to_owned(),
        request: s.request,
        response: None,
        endpoint: None,
        location_info: None,
        time: t,
    }
}

fn ok<'a>(
    service: &'a str,
    rtype: &'a str,
    name: &'a str,
    rid: String,
    rname: String,
) -> Shape<'a> {
    Shape {
        service,
        rtype,
        name,
        rid,
        rname,
        code: 200,
        rating: Rating::Normal,
        channel: TraceType::ConsoleAction,
        request: None,
    }
}

/// An address from TEST-NET-3 (RFC 5737) that no generated user has.
fn foreign_ip(rng: &mut StdRng) -> String {
    format!("203.0.113.{}", rng.gen_range(1..=254))
}

/// The last `hour`:00 UTC at or before `now` (epoch ms).
fn last_hour(now: i64, hour: i64) -> i64 {
    let day = 86_400_000;
    let t = now - now.rem_euclid(day) + hour * 3_600_000;
    if t > now {
        t - day
    } else {
        t
    }
}

impl Generator {
    /// [`Generator::scenario`] as trace JSON in the real v3 wire shape (like
    /// [`Generator::next_trace`]), with `record_time` = `time`.
    pub fn scenario_traces(
        &self,
        scenario: Scenario,
        at: i64,
        now: i64,
        rng: &mut StdRng,
    ) -> Vec<Value> {
        self.scenario(scenario, at, now, rng)
            .iter()
            .map(|r| crate::render::trace_json(r, crate::Shape::Real, "trace_rating", r.time))
            .collect()
    }

    /// The users who act in this project (all, unless story mode gives them homes).
    fn local_users(&self, kind: UserKind) -> Vec<&UserProfile> {
        let mine: Vec<&UserProfile> = self
            .users
            .iter()
            .enumerate()
            .filter(|(i, u)| u.kind == kind && self.is_home(*i))
            .map(|(_, u)| u)
            .collect();
        if mine.is_empty() {
            self.users.iter().filter(|u| u.kind == kind).collect()
        } else {
            mine
        }
    }

    /// The traces of `scenario`, starting at `at` (epoch ms); `now` bounds
    /// time-of-day scenarios. Random choices come from `rng` only.
    pub fn scenario(
        &self,
        scenario: Scenario,
        at: i64,
        now: i64,
        rng: &mut StdRng,
    ) -> Vec<TraceRecord> {
        let humans = self.local_users(UserKind::Human);
        let bots = self.local_users(UserKind::Automation);
        let human = humans[rng.gen_range(0..humans.len())];
        let usual = human.ips[0].as_str();
        let id = |rng: &mut StdRng| uuid_like(rng);
        let mut out = Vec::new();
        match scenario {
            Scenario::AuditTrailTampered => {
                let mut s = ok(
                    "CTS",
                    "tracker",
                    "updateTracker",
                    "system".into(),
                    "system".into(),
                );
                s.request = Some(json!({"tracker_type": "system", "status": "disabled"}));
                out.push(trace(self, rng, at, Some(human), Some(usual), s));
                let s = ok(
                    "CTS",
                    "tracker",
                    "deleteTracker",
                    "system".into(),
                    "system".into(),
                );
                out.push(trace(self, rng, at + 2 * MIN, Some(human), Some(usual), s));
            }
            Scenario::NewSourceIp => {
                let ip = foreign_ip(rng);
                let s = ok("IAM", "user", "login", human.id.clone(), human.name.clone());
                out.push(trace(self, rng, at, Some(human), Some(&ip), s));
                let (rid, rname) = (id(rng), "web-prod-01".to_owned());
                out.push(trace(
                    self,
                    rng,
                    at + MIN,
                    Some(human),
                    Some(&ip),
                    ok("ECS", "ecs", "stopServer", rid, rname),
                ));
            }
            Scenario::LoginFailuresThenSuccess => {
                let ip = foreign_ip(rng);
                for i in 0..4 {
                    let mut s = ok(
                        "IAM",
                        "user",
                        "loginfailed",
                        human.id.clone(),
                        human.name.clone(),
                    );
                    s.code = 401;
                    s.rating = Rating::Warning;
                    out.push(trace(self, rng, at + i * MIN, Some(human), Some(&ip), s));
                }
                let s = ok("IAM", "user", "login", human.id.clone(), human.name.clone());
                out.push(trace(self, rng, at + 5 * MIN, Some(human), Some(&ip), s));
            }
            Scenario::AccessKeyNewIp => {
                let ak: String = (0..20)
                    .map(|_| (b'A' + rng.gen_range(0..26u8)) as char)
                    .collect();
                let mut s = ok("IAM", "credential", "createCredential", ak.clone(), ak);
                s.code = 201;
                out.push(trace(self, rng, at, Some(human), Some(usual), s));
                let ip = foreign_ip(rng);
                for i in 0..3 {
                    let mut s = ok(
                        "ECS",
                        "ecs",
                        "createServer",
                        id(rng),
                        format!("miner-{i:02}"),
                    );
                    s.channel = TraceType::ApiCall;
                    out.push(trace(
                        self,
                        rng,
                        at + 30 * MIN + i * MIN,
                        Some(human),
                        Some(&ip),
                        s,
                    ));
                }
            }
            Scenario::IamGrantOffHours => {
                let t = last_hour(now, 23);
                let mut s = ok(
                    "IAM",
                    "roleAgencyProject",
                    "assignRoleToAgencyOnProject",
                    id(rng),
                    "te_admin".into(),
                );
                s.code = 204;
                out.push(trace(self, rng, t, Some(human), Some(usual), s));
            }
            Scenario::AgencyToOtherDomain => {
                let foreign: String = (0..32)
                    .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
                    .collect();
                let mut s = ok(
                    "IAM",
                    "agency",
                    "createAgency",
                    id(rng),
                    "partner-audit".into(),
                );
                s.code = 201;
                s.request = Some(
                    json!({"agency": {"name": "partner-audit", "domain_id": self.domain.id,
                    "trust_domain_id": foreign, "trust_domain_name": "partner-consulting", "duration": "FOREVER"}}),
                );
                out.push(trace(self, rng, at, Some(human), Some(usual), s));
            }
            Scenario::MassDeletion => {
                // Inside one 5-minute window (the rule's default buckets are epoch-aligned).
                let start = at - at.rem_euclid(5 * MIN) + 10_000;
                for i in 0..25 {
                    let (service, rtype, name) = if i % 3 == 0 {
                        ("EVS", "evs", "deleteVolume")
                    } else {
                        ("ECS", "ecs", "deleteServer")
                    };
                    let mut s = ok(
                        service,
                        rtype,
                        name,
                        id(rng),
                        format!("{rtype}-prod-{i:02}"),
                    );
                    s.code = 202;
                    out.push(trace(
                        self,
                        rng,
                        start + i * 5_000,
                        Some(human),
                        Some(usual),
                        s,
                    ));
                }
            }
            Scenario::SecurityGroupOpenWorld => {
                let mut s = ok(
                    "VPC",
                    "security_group",
                    "createSecurityGroupRule",
                    id(rng),
                    "sg-prod-web".into(),
                );
                s.request = Some(
                    json!({"security_group_rule": {"direction": "ingress", "ethertype": "IPv4",
                    "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}}),
                );
                out.push(trace(self, rng, at, Some(human), Some(usual), s));
            }
            Scenario::ObsBucketPublic => {
                let mut s = ok(
                    "OBS",
                    "bucket",
                    "setBucketAcl",
                    "customer-exports".into(),
                    "customer-exports".into(),
                );
                s.request = Some(json!({"x-obs-acl": "public-read"}));
                out.push(trace(self, rng, at, Some(human), Some(usual), s));
            }
            Scenario::KmsKeyDeletion => {
                let mut s = ok(
                    "KMS",
                    "cmk",
                    "scheduleKeyDeletion",
                    id(rng),
                    "cmk-prod-db".into(),
                );
                s.request = Some(json!({"pending_days": "7"}));
                out.push(trace(self, rng, at, Some(human), Some(usual), s));
            }
            Scenario::KmsKeyDisabled => {
                let s = ok(
                    "KMS",
                    "cmk",
                    "disableKey",
                    id(rng),
                    "cmk-prod-backup".into(),
                );
                out.push(trace(self, rng, at, Some(human), Some(usual), s));
            }
            Scenario::FirstProjectForUser => {
                // Generated in the second project by a user whose home is the first.
                let visitor = self
                    .users
                    .iter()
                    .enumerate()
                    .find(|(i, u)| u.kind == UserKind::Human && !self.is_home(*i))
                    .map_or(human, |(_, u)| u);
                let s = ok("ECS", "ecs", "startServer", id(rng), "db-test-02".into());
                out.push(trace(
                    self,
                    rng,
                    at,
                    Some(visitor),
                    Some(&visitor.ips[0]),
                    s,
                ));
            }
            Scenario::RepeatedAccessDenied => {
                let bot = bots.first().copied().unwrap_or(human);
                let start = at - at.rem_euclid(10 * MIN) + 10_000;
                for i in 0..12 {
                    let mut s = ok(
                        "ECS",
                        "ecs",
                        "deleteServer",
                        id(rng),
                        format!("ecs-shared-{i:02}"),
                    );
                    s.code = 403;
                    s.rating = Rating::Warning;
                    s.channel = TraceType::ApiCall;
                    out.push(trace(
                        self,
                        rng,
                        start + i * 20_000,
                        Some(bot),
                        Some(&bot.ips[0]),
                        s,
                    ));
                }
            }
            Scenario::CrossDomainAgencyUse => {
                let agency = UserProfile {
                    id: (0..32)
                        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
                        .collect(),
                    name: "partner-audit/lena.berger".to_owned(),
                    kind: UserKind::Human,
                    ips: vec![foreign_ip(rng)],
                    activity: 0,
                };
                let partner = DomainInfo {
                    id: (0..32)
                        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
                        .collect(),
                    name: "partner-consulting".to_owned(),
                };
                let shape = ok("ECS", "ecs", "stopServer", id(rng), "app-prod-03".into());
                let mut r = trace(self, rng, at, Some(&agency), Some(&agency.ips[0]), shape);
                r.assumed_by = Some(TraceUser {
                    id: (0..32)
                        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
                        .collect(),
                    name: "lena.berger".to_owned(),
                    domain: partner,
                });
                out.push(r);
            }
            Scenario::ManySourceIps => {
                let start = at - at.rem_euclid(60 * MIN) + MIN;
                for i in 0..6 {
                    let ip = format!("198.51.100.{}", 10 + i);
                    let mut s = ok("ECS", "ecs", "listServers", id(rng), "web-prod-01".into());
                    s.channel = TraceType::ApiCall;
                    out.push(trace(
                        self,
                        rng,
                        start + i * 3 * MIN,
                        Some(human),
                        Some(&ip),
                        s,
                    ));
                }
            }
            Scenario::MfaDeviceUnbound => {
                let s = ok(
                    "IAM",
                    "MFA",
                    "UnBindMFA",
                    human.id.clone(),
                    human.name.clone(),
                );
                out.push(trace(self, rng, at, Some(human), Some(usual), s));
            }
            Scenario::Stories => {
                let night = last_hour(now, 2);
                let who = humans[rng.gen_range(0..humans.len())];
                for i in 0..30 {
                    let (service, rtype, name) = match i % 3 {
                        0 => ("ECS", "ecs", "updateServer"),
                        1 => ("EVS", "evs", "extendVolume"),
                        _ => ("RDS", "instance", "resetPassword"),
                    };
                    let s = ok(
                        service,
                        rtype,
                        name,
                        id(rng),
                        format!("{rtype}-prod-{:02}", i % 7),
                    );
                    out.push(trace(
                        self,
                        rng,
                        night + i * MIN,
                        Some(who),
                        Some(&who.ips[0]),
                        s,
                    ));
                }
                for i in 0..3 {
                    let mut s = ok(
                        "RDS",
                        "instance",
                        "restartInstance",
                        id(rng),
                        format!("rds-prod-{i}"),
                    );
                    s.code = 500;
                    s.rating = Rating::Incident;
                    out.push(trace(
                        self,
                        rng,
                        at + i * 7 * MIN,
                        Some(human),
                        Some(usual),
                        s,
                    ));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::TenantSpec;
    use rand::SeedableRng;

    #[test]
    fn lists_parse_and_name_the_fix() {
        assert_eq!(
            Scenario::parse_list("all").expect("all").len(),
            Scenario::ALL.len()
        );
        assert!(Scenario::parse_list("none").expect("none").is_empty());
        assert_eq!(
            Scenario::parse_list("mass-deletion, stories,mass-deletion").expect("list"),
            vec![Scenario::MassDeletion, Scenario::Stories]
        );
        let e = Scenario::parse_list("mass-deletion,nope").expect_err("unknown");
        assert!(
            e.contains("`nope`") && e.contains("kms-key-deletion"),
            "{e}"
        );
    }

    #[test]
    fn scenarios_are_seeded_and_shaped() {
        let g = Generator::new(7, TenantSpec::new("OTC1", "eu-de_a", 24));
        let now = 1_717_430_400_000; // 2024-06-03T16:00:00Z
        for s in Scenario::ALL {
            let a = g.scenario(s, now - 3_600_000, now, &mut StdRng::seed_from_u64(1));
            let b = g.scenario(s, now - 3_600_000, now, &mut StdRng::seed_from_u64(1));
            assert_eq!(a, b, "{}: same seed, same traces", s.name());
            assert!(!a.is_empty(), "{}", s.name());
            assert!(a.iter().all(|r| r.time <= now + 3_600_000), "{}", s.name());
        }
        let night = g.scenario(
            Scenario::IamGrantOffHours,
            now - 86_000_000,
            now,
            &mut StdRng::seed_from_u64(1),
        );
        assert_eq!(
            night[0].time.rem_euclid(86_400_000),
            23 * 3_600_000,
            "23:00 UTC"
        );
        let burst = g.scenario(
            Scenario::MassDeletion,
            now - 100_000,
            now,
            &mut StdRng::seed_from_u64(2),
        );
        let window = |t: i64| t / 300_000;
        assert!(
            burst
                .iter()
                .all(|r| window(r.time) == window(burst[0].time)),
            "one 5-minute window"
        );
    }
}
