//! Statistical and determinism checks of the generator.

use std::collections::{HashMap, HashSet};

use super::*;

fn sample(seed: u64, n: usize) -> Vec<TraceRecord> {
    let mut g = Generator::new(
        seed,
        TenantSpec::new("OTC00000000001000000001", "eu-de_app1", 30),
    );
    (0..n)
        .map(|i| g.next_record(1_700_000_000_000 + 1000 * i as i64))
        .collect()
}

#[test]
fn same_seed_same_traces_other_seed_other_traces() {
    assert_eq!(sample(11, 500), sample(11, 500));
    let a: Vec<_> = sample(11, 50).into_iter().map(|r| r.trace_id).collect();
    let b: Vec<_> = sample(12, 50).into_iter().map(|r| r.trace_id).collect();
    assert_ne!(a, b);
}

#[test]
fn ratings_are_mostly_normal() {
    let s = sample(5, 20_000);
    let count = |r: Rating| s.iter().filter(|t| t.rating == r).count() as f64 / s.len() as f64;
    assert!(
        count(Rating::Normal) > 0.88,
        "normal {}",
        count(Rating::Normal)
    );
    assert!(
        (0.04..0.11).contains(&count(Rating::Warning)),
        "warning {}",
        count(Rating::Warning)
    );
    assert!(
        (0.001..0.012).contains(&count(Rating::Incident)),
        "incident {}",
        count(Rating::Incident)
    );
    for t in &s {
        let ok = match t.rating {
            Rating::Normal => t.code < 300,
            Rating::Warning => (400..500).contains(&t.code),
            Rating::Incident => t.code >= 500,
        };
        assert!(ok, "{} with code {}", t.rating.as_str(), t.code);
    }
}

#[test]
fn many_services_and_types_appear() {
    let s = sample(5, 5_000);
    let services: HashSet<_> = s.iter().map(|t| t.service_type.as_str()).collect();
    for want in [
        "ECS", "EVS", "VPC", "IAM", "OBS", "CCE", "RDS", "ELB", "DNS", "KMS", "CTS",
    ] {
        assert!(services.contains(want), "missing {want}");
    }
    let types: HashSet<_> = s.iter().map(|t| t.trace_type).collect();
    assert_eq!(types.len(), 3);
    let names: HashSet<_> = s.iter().map(|t| t.trace_name.as_str()).collect();
    for want in [
        "createServer",
        "deleteServer",
        "updatePort",
        "createCredential",
        "login",
    ] {
        assert!(names.contains(want), "missing {want}");
    }
}

#[test]
fn system_actions_have_no_user_or_ip_and_others_do() {
    for t in sample(9, 3_000) {
        let system = t.trace_type == TraceType::SystemAction;
        assert_eq!(system, t.user.is_none(), "{}", t.trace_name);
        assert_eq!(system, t.source_ip.is_none());
        assert_eq!(system, t.endpoint.is_none());
    }
}

#[test]
fn source_ips_recur_per_user() {
    let mut ips: HashMap<String, HashSet<String>> = HashMap::new();
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for t in sample(9, 5_000) {
        if let (Some(u), Some(ip)) = (t.user, t.source_ip) {
            ips.entry(u.name.clone()).or_default().insert(ip);
            *per_user.entry(u.name).or_default() += 1;
        }
    }
    assert!(per_user.len() >= 15, "only {} users acted", per_user.len());
    for (user, set) in ips {
        assert!(
            (1..=3).contains(&set.len()),
            "{user} used {} addresses",
            set.len()
        );
    }
}

/// The catalog effect of a generated trace's operation.
fn effect_of(t: &TraceRecord) -> Effect {
    SERVICES
        .iter()
        .filter(|s| s.service_type == t.service_type)
        .flat_map(|s| s.resources.iter())
        .filter(|r| r.kind == t.resource_type)
        .flat_map(|r| r.ops.iter())
        .find(|o| o.name == t.trace_name)
        .map(|o| o.effect)
        .expect("operation is in the catalog")
}

#[test]
fn resources_recur_and_follow_a_lifecycle() {
    let s = sample(21, 20_000);
    let mut seen: HashMap<&str, Vec<&TraceRecord>> = HashMap::new();
    for t in &s {
        seen.entry(t.resource_id.as_str()).or_default().push(t);
    }
    let recurring = seen.values().filter(|v| v.len() >= 3).count();
    assert!(recurring > 50, "only {recurring} resources appear 3+ times");
    // A successfully deleted pooled resource is not used again afterwards.
    let mut deleted: HashSet<&str> = HashSet::new();
    for t in &s {
        if t.service_type == "IAM" && t.resource_type == "user" {
            continue;
        }
        assert!(
            !deleted.contains(t.resource_id.as_str()),
            "{} used after deletion by {}",
            t.resource_id,
            t.trace_name
        );
        if effect_of(t) == Effect::Delete && t.rating == Rating::Normal {
            deleted.insert(t.resource_id.as_str());
        }
    }
    // Some resources are created and then deleted within the sample.
    let created: HashSet<_> = s
        .iter()
        .filter(|t| effect_of(t) == Effect::Create && t.rating == Rating::Normal)
        .map(|t| t.resource_id.as_str())
        .collect();
    assert!(created.intersection(&deleted).count() > 10);
}

#[test]
fn trace_ids_are_unique_and_fields_plausible() {
    let s = sample(2, 10_000);
    let ids: HashSet<_> = s.iter().map(|t| t.trace_id.as_str()).collect();
    assert_eq!(ids.len(), s.len());
    for t in &s {
        assert_eq!(t.request_id.len(), 32);
        assert!(!t.api_version.is_empty() && t.resource_url.starts_with('/'));
        assert!(
            t.trace_name.len() <= 64 && t.trace_name.starts_with(|c: char| c.is_ascii_alphabetic())
        );
    }
}

#[test]
fn users_are_shared_across_projects_but_traces_differ() {
    let a = Generator::new(4, TenantSpec::new("OTC1", "eu-de_a", 10));
    let b = Generator::new(4, TenantSpec::new("OTC1", "eu-de_b", 10));
    assert_eq!(a.users(), b.users());
    assert_eq!(a.domain(), b.domain());
    assert_ne!(a.project().id, b.project().id);
    let (mut a, mut b) = (a, b);
    assert_ne!(a.next_record(0).trace_id, b.next_record(0).trace_id);
}

#[test]
fn next_trace_is_real_shape_json() {
    let mut g = Generator::new(1, TenantSpec::new("OTC1", "eu-de", 5));
    let v = g.next_trace(1_700_000_000_123);
    assert_eq!(v["time"], 1_700_000_000_123_i64);
    assert_eq!(v["record_time"], 1_700_000_000_123_i64);
    assert!(v["code"].is_string() && v["trace_rating"].is_string() && v["trace_id"].is_string());
}

#[test]
fn a_realistic_share_of_names_is_not_ascii() {
    let s = sample(13, 10_000);
    let with_user: Vec<&TraceRecord> = s.iter().filter(|t| t.user.is_some()).collect();
    let user_share = with_user
        .iter()
        .filter(|t| t.user.as_ref().is_some_and(|u| !u.name.is_ascii()))
        .count() as f64
        / with_user.len() as f64;
    assert!(
        (0.02..0.6).contains(&user_share),
        "traces by non-ASCII users: {user_share}"
    );
    let names: HashSet<&str> = s.iter().map(|t| t.resource_name.as_str()).collect();
    let odd: Vec<&str> = names.iter().copied().filter(|n| !n.is_ascii()).collect();
    let share = odd.len() as f64 / names.len() as f64;
    eprintln!("traces by non-ASCII users: {user_share:.3}, non-ASCII resource names: {share:.3}");
    assert!(
        (0.05..0.3).contains(&share),
        "non-ASCII resource names: {share}"
    );
    for probe in ['ü', 'ß', '\u{202E}', '\u{200F}', ' '] {
        assert!(
            odd.iter().any(|n| n.contains(probe)),
            "no resource name with {probe:?}"
        );
    }
    // Scripts other than Latin, and emoji.
    let all: String = odd.concat();
    for (what, range) in [
        ("CJK", '\u{4E00}'..='\u{9FFF}'),
        ("Cyrillic", '\u{0400}'..='\u{04FF}'),
        ("Greek", '\u{0370}'..='\u{03FF}'),
        ("Arabic", '\u{0600}'..='\u{06FF}'),
        ("emoji", '\u{1F300}'..='\u{1FAFF}'),
    ] {
        assert!(all.chars().any(|c| range.contains(&c)), "no {what} name");
    }
}

#[test]
fn story_mode_background_raises_no_findings_but_stays_varied() {
    let run = |story: bool| {
        let mut g = Generator::new(
            9,
            TenantSpec::new("OTC00000000001000000001", "eu-de_app1", 30),
        );
        if story {
            g.set_home(0, 2);
        }
        (0..20_000)
            .map(|i| g.next_record(1_700_000_000_000 + 1000 * i as i64))
            .collect::<Vec<_>>()
    };
    let names =
        |s: &[TraceRecord]| -> HashSet<String> { s.iter().map(|t| t.trace_name.clone()).collect() };
    let plain = names(&run(false));
    for op in QUIET_IN_STORIES {
        assert!(plain.contains(op), "{op} missing outside story mode");
    }
    let story = run(true);
    let seen = names(&story);
    for op in QUIET_IN_STORIES {
        assert!(!seen.contains(op), "{op} generated in story mode");
    }
    // Everything else still happens: deletions, key creation, credential
    // deletion, bucket ACLs, security group rules.
    for op in [
        "deleteServer",
        "createKey",
        "enableKey",
        "deleteCredential",
        "setBucketAcl",
        "createSecurityGroupRule",
        "login",
    ] {
        assert!(seen.contains(op), "{op} missing in story mode");
    }
    assert!(
        seen.len() + QUIET_IN_STORIES.len() + 5 >= plain.len(),
        "{} of {}",
        seen.len(),
        plain.len()
    );
}
