//! A deterministic, seedable source of realistic CTS management traces.
//!
//! One [`Generator`] produces the traces of one project of a tenant. The
//! tenant's users ([`people`]) are shared by all projects of the same domain
//! and seed; resources live in pools so that ids and names
//! recur: a server is created, started, resized, and eventually deleted.
//! Ratings are mostly `normal`, sometimes `warning` and rarely `incident`.
//! A share of user and resource names is not ASCII (umlauts and ß,
//! Cyrillic, Greek, CJK, Arabic, spaces, right-to-left marks, emoji).
//!
//! ```
//! use cts_emulator::generator::{Generator, TenantSpec};
//! let spec = TenantSpec::new("OTC00000000001000000001", "eu-de_app1", 24);
//! let mut a = Generator::new(7, spec.clone());
//! let mut b = Generator::new(7, spec);
//! assert_eq!(a.next_trace(1_700_000_000_000), b.next_trace(1_700_000_000_000));
//! ```

mod catalog;
pub mod people;
mod record;
mod resources;
pub mod scenarios;
mod text;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::ids::{domain_info, project_info, sub_seed, DomainInfo, ProjectInfo};
use catalog::{Effect, Naming, OpDef, ResourceDef, ServiceDef, SERVICES};
pub use people::{UserKind, UserProfile};
pub use record::{Rating, TraceRecord, TraceType, TraceUser};
use resources::{uuid_like, Pools, Resource};
pub use scenarios::Scenario;

/// Operations the generated background does not produce in story mode
/// ([`Generator::set_home`]): each one alone, or with a scenario's new
/// address, is what a detection rule (docs/detections.md) reports, so in the
/// demo they would bury the scenarios under findings nobody planted. CTS
/// `updateTracker` (audit-trail-tampered), IAM `createCredential` (with a
/// scenario's new address: access-key-new-ip, once per background key of that
/// user), KMS `disableKey` and `scheduleKeyDeletion` (kms-key-disabled,
/// kms-key-deletion). Outside story mode the background keeps them.
pub const QUIET_IN_STORIES: [&str; 4] = [
    "updateTracker",
    "createCredential",
    "disableKey",
    "scheduleKeyDeletion",
];

/// The tenant and project a generator produces traces for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSpec {
    /// Domain (account) name.
    pub domain_name: String,
    /// Project name, e.g. `eu-de_app1`; its region is the part before `_`.
    pub project_name: String,
    /// Number of users in the domain (at least 1 is used).
    pub user_count: usize,
}

impl TenantSpec {
    /// A tenant spec from its three parts.
    pub fn new(
        domain_name: impl Into<String>,
        project_name: impl Into<String>,
        user_count: usize,
    ) -> Self {
        TenantSpec {
            domain_name: domain_name.into(),
            project_name: project_name.into(),
            user_count,
        }
    }
}

/// Generates the traces of one project, deterministically from a seed.
#[derive(Debug)]
pub struct Generator {
    rng: StdRng,
    domain: DomainInfo,
    project: ProjectInfo,
    users: Vec<UserProfile>,
    user_weight_total: u32,
    service_weight_total: u32,
    pools: Pools,
    /// Story mode (`set_home`): (this project's index, number of projects).
    home: Option<(usize, usize)>,
}

impl Generator {
    /// A generator for `spec`. The same seed and spec always yield the same
    /// sequence of traces for the same sequence of `time_ms` arguments.
    pub fn new(seed: u64, spec: TenantSpec) -> Self {
        let domain = domain_info(seed, &spec.domain_name);
        let project = project_info(seed, &spec.domain_name, &spec.project_name);
        let users = people::tenant_users(seed, &spec.domain_name, spec.user_count.max(1));
        let mut rng = StdRng::seed_from_u64(sub_seed(
            seed,
            &["traces", &spec.domain_name, &spec.project_name],
        ));
        let pools = Pools::new(
            &mut rng,
            sub_seed(
                seed,
                &["resource-names", &spec.domain_name, &spec.project_name],
            ),
        );
        Generator {
            rng,
            user_weight_total: users.iter().map(|u| u.activity).sum(),
            service_weight_total: SERVICES.iter().map(|s| s.weight).sum(),
            domain,
            project,
            users,
            pools,
            home: None,
        }
    }

    /// Story mode: user `i` works only in project `i % count`, and always
    /// from their usual address; this generator is project `index` of `count`.
    /// Used when scenarios are on (see [`scenarios`]), so that a first
    /// project or a new address in a scenario stands out.
    pub fn set_home(&mut self, index: usize, count: usize) {
        self.home = Some((index, count.max(1)));
    }

    /// Whether user `i` works in this project.
    fn is_home(&self, i: usize) -> bool {
        self.home.is_none_or(|(index, count)| i % count == index)
    }

    /// The domain the traces belong to.
    pub fn domain(&self) -> &DomainInfo {
        &self.domain
    }

    /// The project the traces belong to.
    pub fn project(&self) -> &ProjectInfo {
        &self.project
    }

    /// The tenant's users.
    pub fn users(&self) -> &[UserProfile] {
        &self.users
    }

    /// The next trace as JSON in the real wire shape of the v3 API
    /// (`trace_rating`, `code` a string), with `record_time` = `time_ms`.
    pub fn next_trace(&mut self, time_ms: i64) -> Value {
        let rec = self.next_record(time_ms);
        crate::render::trace_json(&rec, crate::Shape::Real, "trace_rating", time_ms)
    }

    /// The next trace as a typed record whose `time` is `time_ms`.
    pub fn next_record(&mut self, time_ms: i64) -> TraceRecord {
        let (si, service, ri, rdef, op) = self.pick_background_op();
        let rating = match self.rng.gen_range(0..1000) {
            0..=4 => Rating::Incident,
            5..=74 => Rating::Warning,
            _ => Rating::Normal,
        };
        let actor = if op.system {
            None
        } else {
            Some(self.pick_user(op.effect == Effect::SelfAction))
        };
        let resource = self.resource_for(si, ri, rdef, op, actor, rating);
        let trace_type = match actor.map(|i| self.users[i].kind) {
            None => TraceType::SystemAction,
            Some(UserKind::Automation) => TraceType::ApiCall,
            Some(UserKind::Human) if op.effect == Effect::SelfAction => TraceType::ConsoleAction,
            Some(UserKind::Human) if self.rng.gen_bool(0.7) => TraceType::ConsoleAction,
            Some(UserKind::Human) => TraceType::ApiCall,
        };
        let code = self.status_code(op, rating);
        let (user, source_ip) = match actor {
            None => (None, None),
            Some(i) => {
                let u = &self.users[i];
                // The first address is the usual one; others appear now and then.
                let ip = if self.rng.gen_bool(0.8) || self.home.is_some() {
                    &u.ips[0]
                } else {
                    &u.ips[self.rng.gen_range(0..u.ips.len())]
                };
                let user = TraceUser {
                    id: u.id.clone(),
                    name: u.name.clone(),
                    domain: self.domain.clone(),
                };
                (Some(user), Some(ip.clone()))
            }
        };
        let endpoint = match trace_type {
            TraceType::ConsoleAction => Some(format!(
                "https://console.otc.t-systems.com/{}/?agencyId={}&region={}&locale=en-us#/{}/manager/{}List",
                service.console, self.domain.id, self.project.region, service.console, rdef.kind
            )),
            TraceType::ApiCall => Some(format!("https://{}.{}.otc.t-systems.com", service.host, self.project.region)),
            TraceType::SystemAction => None,
        };
        let request = request_body(op, rdef, &resource);
        let response = self.response_body(service, op, rdef, &resource, rating, code);
        TraceRecord {
            trace_id: uuid_like(&mut self.rng),
            trace_name: op.name.to_owned(),
            rating,
            trace_type,
            service_type: service.service_type.to_owned(),
            resource_type: rdef.kind.to_owned(),
            resource_url: self.resource_url(rdef, op, &resource),
            resource_id: resource.id,
            resource_name: resource.name,
            user,
            assumed_by: None,
            source_ip,
            request_id: format!("{:032x}", self.rng.gen::<u128>()),
            code,
            api_version: service.api_version.to_owned(),
            request,
            response,
            endpoint,
            location_info: (code == 404).then(|| "resource has been deleted".to_owned()),
            time: time_ms,
        }
    }

    /// A service, resource and operation by weight; in story mode never one
    /// of [`QUIET_IN_STORIES`], so that only the scenarios raise findings.
    #[allow(clippy::type_complexity)]
    fn pick_background_op(
        &mut self,
    ) -> (
        usize,
        &'static ServiceDef,
        usize,
        &'static ResourceDef,
        &'static OpDef,
    ) {
        for _ in 0..64 {
            let (si, service) = self.pick_service();
            let ri = self.rng.gen_range(0..service.resources.len());
            let rdef = &service.resources[ri];
            let op = self.pick_op(si, ri, rdef);
            if self.home.is_none() || !QUIET_IN_STORIES.contains(&op.name) {
                return (si, service, ri, rdef, op);
            }
        }
        // Unreachable in practice (a quiet pick has a few percent chance):
        // the first compute resource's first operation, never a trigger.
        let (service, rdef) = (&SERVICES[0], &SERVICES[0].resources[0]);
        (0, service, 0, rdef, &rdef.ops[0])
    }

    fn pick_service(&mut self) -> (usize, &'static ServiceDef) {
        let mut x = self.rng.gen_range(0..self.service_weight_total);
        for (i, s) in SERVICES.iter().enumerate() {
            if x < s.weight {
                return (i, s);
            }
            x -= s.weight;
        }
        (0, &SERVICES[0])
    }

    /// An operation by weight, steered by the pool: nothing to change or
    /// delete means create; a full pool means delete.
    fn pick_op(&mut self, si: usize, ri: usize, rdef: &'static ResourceDef) -> &'static OpDef {
        let total: u32 = rdef.ops.iter().map(|o| o.weight).sum();
        let mut x = self.rng.gen_range(0..total);
        let mut chosen = &rdef.ops[0];
        for o in rdef.ops {
            if x < o.weight {
                chosen = o;
                break;
            }
            x -= o.weight;
        }
        let pooled = !matches!(rdef.naming, Naming::TenantUser | Naming::Tracker);
        let live = self.pools.len(si, ri);
        let want = match chosen.effect {
            Effect::Update | Effect::Delete if pooled && live == 0 => Some(Effect::Create),
            Effect::Create if live >= rdef.max_live => Some(Effect::Delete),
            _ => None,
        };
        match want {
            Some(effect) => rdef
                .ops
                .iter()
                .find(|o| o.effect == effect && !o.system)
                .unwrap_or(chosen),
            None => chosen,
        }
    }

    fn pick_user(&mut self, human_only: bool) -> usize {
        for _ in 0..8 {
            let mut x = self.rng.gen_range(0..self.user_weight_total.max(1));
            for (i, u) in self.users.iter().enumerate() {
                if x < u.activity {
                    if (!human_only || u.kind == UserKind::Human) && self.is_home(i) {
                        return i;
                    }
                    break;
                }
                x -= u.activity;
            }
        }
        (0..self.users.len())
            .find(|&i| self.users[i].kind == UserKind::Human && self.is_home(i))
            .or_else(|| self.users.iter().position(|u| u.kind == UserKind::Human))
            .unwrap_or(0)
    }

    fn resource_for(
        &mut self,
        si: usize,
        ri: usize,
        rdef: &ResourceDef,
        op: &OpDef,
        actor: Option<usize>,
        rating: Rating,
    ) -> Resource {
        if rdef.naming == Naming::TenantUser {
            let i = match (op.effect, actor) {
                (Effect::SelfAction, Some(i)) => i,
                _ => self.rng.gen_range(0..self.users.len()),
            };
            return Resource {
                id: self.users[i].id.clone(),
                name: self.users[i].name.clone(),
            };
        }
        match op.effect {
            Effect::Create => {
                let r = self.pools.fresh(&mut self.rng, rdef);
                if rating == Rating::Normal {
                    self.pools.add(si, ri, r.clone());
                }
                r
            }
            Effect::Delete => match self.pools.pick(&mut self.rng, si, ri) {
                Some(r) => {
                    if rating == Rating::Normal {
                        self.pools.remove(si, ri, &r.id);
                    }
                    r
                }
                None => self.pools.fresh(&mut self.rng, rdef),
            },
            Effect::Update | Effect::SelfAction => match self.pools.pick(&mut self.rng, si, ri) {
                Some(r) => r,
                None => self.pools.fresh(&mut self.rng, rdef),
            },
        }
    }

    fn status_code(&mut self, op: &OpDef, rating: Rating) -> u16 {
        match rating {
            Rating::Normal => op.success_code,
            Rating::Warning => [400, 400, 403, 404, 409][self.rng.gen_range(0..5)],
            Rating::Incident => [500, 500, 503][self.rng.gen_range(0..3)],
        }
    }

    fn resource_url(&self, rdef: &ResourceDef, op: &OpDef, res: &Resource) -> String {
        let base = rdef.collection.replace("{project_id}", &self.project.id);
        match (rdef.naming, op.effect) {
            (Naming::TenantUser, _) if op.name == "login" || op.name == "logout" => {
                "/v3/auth/tokens".to_owned()
            }
            (_, Effect::Create) if !base.is_empty() => base,
            _ => format!("{base}/{}{}", res.id, op.suffix),
        }
    }

    fn response_body(
        &mut self,
        svc: &ServiceDef,
        op: &OpDef,
        rdef: &ResourceDef,
        res: &Resource,
        rating: Rating,
        code: u16,
    ) -> Option<Value> {
        if rating != Rating::Normal {
            let dot = svc.error_prefix.find('.').unwrap_or(0);
            let digits = 4usize.saturating_sub(svc.error_prefix.len() - dot - 1) as u32;
            let n = self.rng.gen_range(0..10u32.pow(digits));
            let reason = match code {
                403 => "Insufficient permissions for this operation.",
                404 => "The resource does not exist.",
                409 => "The resource is in a conflicting state.",
                500 => "Internal service error.",
                503 => "Service temporarily unavailable.",
                _ => "Invalid request parameter.",
            };
            let ecode = format!("{}{:0width$}", svc.error_prefix, n, width = digits as usize);
            return Some(json!({"code": ecode, "message": format!("{} fail. {reason}", op.name)}));
        }
        match code {
            204 => None,
            202 => Some(json!({"job_id": format!("ff80808{:025x}", self.rng.gen::<u128>() >> 28)})),
            _ if op.effect == Effect::SelfAction => None,
            _ => Some(json!({ body_key(rdef.kind): {"id": res.id, "name": res.name} })),
        }
    }
}

/// The top-level key the service's API uses for a resource in bodies.
fn body_key(kind: &str) -> &str {
    match kind {
        "ecs" => "server",
        "evs" => "volume",
        "eip" => "publicip",
        "cmk" => "key_info",
        "cluster" | "nodepool" => "metadata",
        other => other,
    }
}

fn request_body(op: &OpDef, rdef: &ResourceDef, res: &Resource) -> Option<Value> {
    match op.effect {
        Effect::Delete | Effect::SelfAction => None,
        Effect::Create => Some(json!({ body_key(rdef.kind): {"name": res.name} })),
        Effect::Update if !op.suffix.is_empty() || op.method == "POST" => {
            Some(json!({ op.name: {} }))
        }
        Effect::Update => Some(
            json!({ body_key(rdef.kind): {"name": res.name, "description": format!("changed by {}", op.name)} }),
        ),
    }
}

#[cfg(test)]
mod tests;
