//! The tenant's IAM users: who acts, how often, from which addresses and
//! through which channel (console or API). Derived only from the seed and the
//! domain, so every project of a domain sees the same people.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::text;
use crate::ids::{hex_id, sub_seed};

const FIRST: &[&str] = &[
    "anna", "ben", "clara", "david", "elena", "felix", "greta", "hannes", "ida", "jonas", "katrin",
    "lukas", "mia", "noah", "olga", "paul", "quirin", "rosa", "sven", "tina", "uwe", "vera",
    "wolf", "yara",
];
const LAST: &[&str] = &[
    "mueller",
    "schmidt",
    "schneider",
    "fischer",
    "weber",
    "meyer",
    "wagner",
    "becker",
    "schulz",
    "hoffmann",
    "koch",
    "richter",
    "klein",
    "wolf",
    "neumann",
    "schwarz",
    "braun",
    "zimmermann",
];
const AUTOMATION: &[&str] = &[
    "terraform-ci",
    "jenkins-deploy",
    "backup-svc",
    "gitlab-runner",
    "monitoring-bot",
    "ansible-ops",
];

/// Address blocks users connect from: offices, home ISPs, CI runners in the cloud.
const OFFICE_NETS: &[[u8; 2]] = &[[80, 158], [195, 145], [217, 6], [91, 64]];
const CLOUD_NETS: &[[u8; 2]] = &[[10, 20], [192, 168], [100, 125]];

/// How a user usually works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    /// A person, mostly in the web console, sometimes via API tools.
    Human,
    /// A technical account: API calls only.
    Automation,
}

/// One IAM user of the tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct UserProfile {
    /// 32 hex digits.
    pub id: String,
    /// Login name, e.g. `anna.mueller`, `jürgen.groß`, `иван.петров` or `terraform-ci`.
    pub name: String,
    /// Human or automation.
    pub kind: UserKind,
    /// Source IPs this user recurs from (1 to 3).
    pub ips: Vec<String>,
    /// Relative activity (how often this user appears).
    pub activity: u32,
}

/// The users of a domain, `count` of them, derived from seed and domain name.
pub fn tenant_users(seed: u64, domain_name: &str, count: usize) -> Vec<UserProfile> {
    let mut rng = StdRng::seed_from_u64(sub_seed(seed, &["users", domain_name]));
    // Non-ASCII names come from their own stream, so the rest stays as it was.
    let mut names = StdRng::seed_from_u64(sub_seed(seed, &["user-names", domain_name]));
    let automation = (count / 6).min(AUTOMATION.len());
    let mut out = Vec::with_capacity(count);
    let mut taken = std::collections::HashSet::new();
    for i in 0..count {
        let automation_name = AUTOMATION.get(i).filter(|_| i < automation);
        let kind = if automation_name.is_some() {
            UserKind::Automation
        } else {
            UserKind::Human
        };
        let mut name = match automation_name {
            Some(a) => (*a).to_owned(),
            None => {
                let ascii = format!(
                    "{}.{}",
                    FIRST[rng.gen_range(0..FIRST.len())],
                    LAST[rng.gen_range(0..LAST.len())]
                );
                text::user_name(&mut names).unwrap_or(ascii)
            }
        };
        if !taken.insert(name.clone()) {
            let mut n = 2;
            while !taken.insert(format!("{name}{n}")) {
                n += 1;
            }
            name = format!("{name}{n}");
        }
        let nets = if kind == UserKind::Automation {
            CLOUD_NETS
        } else {
            OFFICE_NETS
        };
        let ip_count = rng.gen_range(1..=3);
        let ips = (0..ip_count)
            .map(|_| {
                let net = nets[rng.gen_range(0..nets.len())];
                format!(
                    "{}.{}.{}.{}",
                    net[0],
                    net[1],
                    rng.gen_range(0..=255u8),
                    rng.gen_range(1..=254u8)
                )
            })
            .collect();
        // A skewed activity: a few very active users, a long tail of rare ones.
        let activity = match rng.gen_range(0..10) {
            0..=1 => rng.gen_range(20..40),
            2..=5 => rng.gen_range(5..15),
            _ => rng.gen_range(1..4),
        };
        out.push(UserProfile {
            id: hex_id(seed, &["user", domain_name, &name]),
            name,
            kind,
            ips,
            activity,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_deterministic_unique_and_have_ips() {
        let a = tenant_users(7, "OTC1", 40);
        assert_eq!(a, tenant_users(7, "OTC1", 40));
        assert_ne!(a, tenant_users(8, "OTC1", 40));
        let names: std::collections::HashSet<_> = a.iter().map(|u| &u.name).collect();
        assert_eq!(names.len(), 40);
        assert!(a
            .iter()
            .all(|u| (1..=3).contains(&u.ips.len()) && u.activity > 0));
        assert!(a.iter().any(|u| u.kind == UserKind::Automation));
        assert!(a.iter().any(|u| u.kind == UserKind::Human));
    }
}
