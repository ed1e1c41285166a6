//! Resources that live across traces: created once, changed many times,
//! deleted eventually. Keeping them in pools is what makes the generated
//! traces recur on the same resource ids and names, as in a real tenant.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::catalog::{Naming, ResourceDef, SERVICES};

/// A live resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resource {
    pub id: String,
    pub name: String,
}

/// Live resources of every (service, resource type) of the catalog.
#[derive(Debug)]
pub(crate) struct Pools {
    /// Indexed like `SERVICES[s].resources[r]`.
    live: Vec<Vec<Vec<Resource>>>,
    /// Sequence numbers used in generated names.
    counter: u64,
    /// The stream choosing non-ASCII names ([`super::text`]).
    names: StdRng,
}

const ENVS: &[&str] = &["prod", "stage", "dev"];
const ZONES: &[&str] = &["example.com.", "shop.example.com.", "internal.example.net."];
const HOSTS: &[&str] = &["www", "api", "mail", "vpn", "git", "grafana", "status"];

/// A random UUID-shaped id (version-4 layout).
pub(crate) fn uuid_like(rng: &mut StdRng) -> String {
    let a: u128 = rng.gen();
    let a = (a & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let h = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Pools {
    /// Pools filled with each type's `initial` resources; `names_seed` seeds
    /// the choice of non-ASCII names.
    pub fn new(rng: &mut StdRng, names_seed: u64) -> Pools {
        let mut pools = Pools {
            live: Vec::new(),
            counter: 0,
            names: StdRng::seed_from_u64(names_seed),
        };
        for s in SERVICES {
            let mut per_service = Vec::new();
            for r in s.resources {
                let items = (0..r.initial).map(|_| pools.fresh(rng, r)).collect();
                per_service.push(items);
            }
            pools.live.push(per_service);
        }
        pools
    }

    /// Number of live resources of a type.
    pub fn len(&self, s: usize, r: usize) -> usize {
        self.live[s][r].len()
    }

    /// A random live resource, if any.
    pub fn pick(&self, rng: &mut StdRng, s: usize, r: usize) -> Option<Resource> {
        let items = &self.live[s][r];
        if items.is_empty() {
            None
        } else {
            Some(items[rng.gen_range(0..items.len())].clone())
        }
    }

    /// Adds a created resource.
    pub fn add(&mut self, s: usize, r: usize, res: Resource) {
        self.live[s][r].push(res);
    }

    /// Removes a deleted resource.
    pub fn remove(&mut self, s: usize, r: usize, id: &str) {
        self.live[s][r].retain(|x| x.id != id);
    }

    /// A new resource of the given type (not yet added).
    pub fn fresh(&mut self, rng: &mut StdRng, def: &ResourceDef) -> Resource {
        self.counter += 1;
        let n = self.counter;
        match def.naming {
            Naming::Prefixed(prefixes) => {
                let p = prefixes[rng.gen_range(0..prefixes.len())];
                let env = ENVS[rng.gen_range(0..ENVS.len())];
                let ascii = format!("{p}-{env}-{:02}", n % 100);
                Resource {
                    id: uuid_like(rng),
                    name: super::text::resource_name(&mut self.names, p, n).unwrap_or(ascii),
                }
            }
            Naming::PublicIp => {
                let name = format!(
                    "80.158.{}.{}",
                    rng.gen_range(0..=255u8),
                    rng.gen_range(1..=254u8)
                );
                Resource {
                    id: uuid_like(rng),
                    name,
                }
            }
            Naming::NameIsId(prefixes) => {
                let p = prefixes[rng.gen_range(0..prefixes.len())];
                let name = format!("obs-{p}-{:04x}", rng.gen::<u16>());
                Resource {
                    id: name.clone(),
                    name,
                }
            }
            Naming::AccessKey => {
                const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
                let ak: String = (0..20)
                    .map(|_| ALNUM[rng.gen_range(0..ALNUM.len())] as char)
                    .collect();
                Resource {
                    id: ak.clone(),
                    name: ak,
                }
            }
            Naming::DnsName => {
                let zone = ZONES[rng.gen_range(0..ZONES.len())];
                let host = HOSTS[rng.gen_range(0..HOSTS.len())];
                let id = format!("{:032x}", rng.gen::<u128>());
                Resource {
                    id,
                    name: format!("{host}{}.{zone}", n % 10),
                }
            }
            Naming::Tracker => Resource {
                id: format!("{:08x}-tracker", rng.gen::<u32>()),
                name: "system".to_owned(),
            },
            // Users are not pooled; the generator takes them from the tenant.
            Naming::TenantUser => Resource {
                id: String::new(),
                name: String::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_like_has_uuid_layout() {
        let mut rng = StdRng::seed_from_u64(1);
        let u = uuid_like(&mut rng);
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        assert!(matches!(u.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{u}");
    }

    #[test]
    fn pools_add_pick_remove() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut p = Pools::new(&mut rng, 2);
        let before = p.len(0, 0);
        assert_eq!(before, SERVICES[0].resources[0].initial);
        let r = p.fresh(&mut rng, &SERVICES[0].resources[0]);
        p.add(0, 0, r.clone());
        assert_eq!(p.len(0, 0), before + 1);
        p.remove(0, 0, &r.id);
        assert_eq!(p.len(0, 0), before);
        assert!(p.pick(&mut rng, 0, 0).is_some());
    }
}
