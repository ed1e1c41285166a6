//! The graph context of an event (project, region, domain) and the status
//! of its trace, from whatever the sender gave.
//!
//! Our exporter sets the `project`, `region` and `domain` extensions; other
//! producers do not (the original Go exporter sends `tenant`, a Knative
//! `PingSource` or a hand-written sender may send none). A trace is never
//! refused for a missing context: each field is taken from the first source
//! that has a plausible value, and what cannot be derived is stored as the
//! documented placeholder [`UNKNOWN`]. Every value that did not come from our
//! own extension is reported as a [`Derived`], which the server counts in
//! `neo4j_sink_context_derived_total{field,from}` and logs.
//!
//! Values read from anything other than our own extensions must look like
//! what they claim to be (a project id is 32 lower-case hex characters, a
//! region is `eu-de`-shaped): a sender's junk never becomes a tenant. Values
//! only ever travel to Neo4j as parameters, never as Cypher text.

use crate::store::TraceContext;
use cloudevents::event::ExtensionValue;
use cloudevents::{AttributesReader, Event};
use cts_client::{Trace, TraceRating};

/// The placeholder stored for a project or region no source gave.
pub const UNKNOWN: &str = "unknown";

/// One context value that did not come from our own extension: which field,
/// and where it came from. Both are label values of
/// `neo4j_sink_context_derived_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Derived {
    /// `project`, `region`, `domain` or `status`.
    pub field: &'static str,
    /// `tenant_extension`, `source`, `resource_url`, `endpoint`,
    /// `user_domain`, `rating_extension`, `status_extension` or `placeholder`.
    pub from: &'static str,
}

/// Every (field, from) pair [`derive()`] can report, for pre-registering the
/// metric's label sets.
pub const ALL: [Derived; 11] = [
    d("project", "tenant_extension"),
    d("project", "source"),
    d("project", "resource_url"),
    d("project", "placeholder"),
    d("region", "endpoint"),
    d("region", "source"),
    d("region", "placeholder"),
    d("domain", "user_domain"),
    d("domain", "none"),
    d("status", "rating_extension"),
    d("status", "status_extension"),
];

const fn d(field: &'static str, from: &'static str) -> Derived {
    Derived { field, from }
}

/// True for an OTC project (or domain) id: 32 lower-case hex characters.
pub fn is_otc_id(s: &str) -> bool {
    s.len() == 32
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True for a region name shaped like OTC's and its relatives': two letters,
/// a dash, letters with optional digits, optionally more dash-separated parts
/// (`eu-de`, `eu-ch2`, `ap-southeast-1`); at most 32 characters.
pub fn is_region(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    let Some(second) = parts.next() else {
        return false;
    };
    let letters_then_digits = {
        let digits_at = second
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(second.len());
        let (l, n) = second.split_at(digits_at);
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_lowercase())
            && n.bytes().all(|b| b.is_ascii_digit())
    };
    s.len() <= 32
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && letters_then_digits
        && parts.all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// The path segments of a URL or of a bare path, without query or fragment.
fn path_segments(s: &str) -> Vec<&str> {
    let s = s.split(['?', '#']).next().unwrap_or("");
    let path = match s.find("://") {
        Some(i) => {
            let rest = &s[i + 3..];
            rest.find('/').map_or("", |j| &rest[j..])
        }
        None => s,
    };
    path.split('/').filter(|p| !p.is_empty()).collect()
}

/// The host of a URL (`scheme://host[:port]/...`) or of `host/...`.
fn host(s: &str) -> &str {
    let rest = s.find("://").map_or(s, |i| &s[i + 3..]);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    host_port.split(':').next().unwrap_or("")
}

fn is_api_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major = parts.next().unwrap_or("");
    !major.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && parts
            .next()
            .is_none_or(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
}

/// The project id in an OTC API path: the segment right after an API
/// version (`/v2/<id>/...`, `/v1.0/<id>/`) or after `projects`
/// (`/projects/<id>/trackers/system`), when it is an OTC id.
pub fn project_in_path(s: &str) -> Option<&str> {
    path_segments(s)
        .windows(2)
        .find(|w| (is_api_version(w[0]) || w[0] == "projects") && is_otc_id(w[1]))
        .map(|w| w[1])
}

/// The region in an OTC host name: the label after the service
/// (`evs.eu-de.otc.t-systems.com` → `eu-de`), when it is region-shaped.
pub fn region_in_host(s: &str) -> Option<&str> {
    let labels: Vec<&str> = host(s).split('.').collect();
    (labels.len() >= 3)
        .then(|| labels[1])
        .filter(|l| is_region(l))
}

/// The trimmed, non-empty text of an extension.
pub fn extension(event: &Event, name: &str) -> Option<String> {
    event
        .extension(name)
        .map(ExtensionValue::to_string)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The graph context of `event` carrying `trace`, and what of it was not
/// given by our own extensions.
pub fn derive(event: &Event, trace: &Trace) -> (TraceContext, Vec<Derived>) {
    let mut derived = Vec::new();
    let source = event.source().to_string();
    let project = extension(event, "project").or_else(|| {
        let tenant = extension(event, "tenant").filter(|t| is_otc_id(t));
        let (value, from) = if let Some(t) = tenant {
            (t, "tenant_extension")
        } else if let Some(p) = project_in_path(&source) {
            (p.to_string(), "source")
        } else if let Some(p) = trace.resource_url.as_deref().and_then(project_in_path) {
            (p.to_string(), "resource_url")
        } else {
            (UNKNOWN.to_string(), "placeholder")
        };
        derived.push(d("project", from));
        Some(value)
    });
    let region = extension(event, "region").or_else(|| {
        let (value, from) = if let Some(r) = trace.endpoint.as_deref().and_then(region_in_host) {
            (r.to_string(), "endpoint")
        } else if let Some(r) = region_in_host(&source) {
            (r.to_string(), "source")
        } else {
            (UNKNOWN.to_string(), "placeholder")
        };
        derived.push(d("region", from));
        Some(value)
    });
    let mut context = TraceContext::new(
        project.unwrap_or_else(|| UNKNOWN.to_string()),
        region.unwrap_or_else(|| UNKNOWN.to_string()),
    );
    let domain = extension(event, "domain").or_else(|| {
        let user_domain = trace
            .user
            .as_ref()
            .and_then(|u| u.domain.as_ref())
            .and_then(|d| d.id.as_deref())
            .map(str::trim)
            .filter(|id| is_otc_id(id))
            .map(str::to_string);
        derived.push(d(
            "domain",
            if user_domain.is_some() {
                "user_domain"
            } else {
                "none"
            },
        ));
        user_domain
    });
    if let Some(domain) = domain {
        context = context.with_domain(domain, None);
    }
    // The project's name, as cts-exporter sends it (`projectname`); only shown, never a key.
    if let Some(name) = extension(event, "projectname") {
        context = context.with_project_name(name);
    }
    (context, derived)
}

/// The trace's status from the `rating` (our exporter) or `status` (the
/// original exporter) extension, when the trace itself has none and the
/// extension holds one of the documented ratings. Any other text is
/// ignored: a sender's word must not invent a `Status` node.
pub fn rating_from_extensions(event: &Event, trace: &Trace) -> Option<(TraceRating, Derived)> {
    if trace.trace_rating.is_some() {
        return None;
    }
    [
        ("rating", "rating_extension"),
        ("status", "status_extension"),
    ]
    .into_iter()
    .find_map(|(name, from)| {
        let rating = TraceRating::parse(&extension(event, name)?);
        (!matches!(rating, TraceRating::Other(_))).then_some((rating, d("status", from)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::{EventBuilder, EventBuilderV10};
    use serde_json::json;

    const P: &str = "1a4d5e5fc6a77416f1a992ac2fe57409";
    const D: &str = "cc2d87d27147ba8934614f2ccc84a766";

    fn event(source: &str, ext: &[(&str, &str)]) -> Event {
        let mut b = EventBuilderV10::new().id("x").source(source).ty("t");
        for (k, v) in ext {
            b = b.extension(k, *v);
        }
        b.build().expect("event")
    }

    fn trace(v: serde_json::Value) -> Trace {
        serde_json::from_value(v).expect("trace")
    }

    #[test]
    fn ids_and_regions() {
        assert!(is_otc_id(P));
        for bad in [
            "",
            "unknown",
            &P.to_uppercase(),
            &P[1..],
            &format!("{P}0"),
            "1a4d5e5fc6a77416f1a992ac2fe5740g",
            "../../../../etc/passwd0000000000",
            "1a4d5e5fc6a77416f1a992ac2fe5740\u{e9}",
        ] {
            assert!(!is_otc_id(bad), "{bad}");
        }
        for good in ["eu-de", "eu-nl", "eu-ch2", "ap-southeast-1", "cn-north-4"] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "",
            "eu",
            "t-systems",
            "EU-DE",
            "eu-",
            "eu-de-",
            "eu--de",
            "e\u{fc}-de",
            "eu-2de",
            "eu-de\u{202e}",
            &format!("eu-{}", "d".repeat(40)),
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn project_and_region_from_paths_and_hosts() {
        assert_eq!(
            project_in_path(&format!("http://127.0.0.1:18732/v2.0/{P}/")),
            Some(P)
        );
        assert_eq!(
            project_in_path(&format!(
                "https://cts.eu-de.otc.t-systems.com/projects/{P}/trackers/system"
            )),
            Some(P)
        );
        assert_eq!(
            project_in_path(&format!("/v2/{P}/cloudvolumes/x/action?a=b")),
            Some(P)
        );
        // A 32-hex segment that is not in a project position is not a project.
        assert_eq!(project_in_path(&format!("/v3/domains/{D}")), None);
        assert_eq!(project_in_path(&format!("/x/{P}")), None);
        assert_eq!(project_in_path("/v3/proj-abc?tracker=system"), None);
        assert_eq!(project_in_path(""), None);
        assert_eq!(
            region_in_host("https://evs.eu-de.otc.t-systems.com"),
            Some("eu-de")
        );
        assert_eq!(
            region_in_host("https://user@ecs.eu-ch2.sc.otc.t-systems.com:443/v1"),
            Some("eu-ch2")
        );
        assert_eq!(region_in_host("http://127.0.0.1:18732/v2.0/x/"), None);
        assert_eq!(region_in_host("https://x.t-systems.com"), None);
        assert_eq!(region_in_host("eu-de"), None);
    }

    #[test]
    fn our_extensions_win_and_nothing_is_derived() {
        let e = event(
            "s",
            &[("project", "p1"), ("region", "eu-nl"), ("domain", "d1")],
        );
        let t = trace(json!({"trace_id": "a", "endpoint": "https://ecs.eu-de.otc.t-systems.com"}));
        let (c, derived) = derive(&e, &t);
        assert_eq!((c.project_id.as_str(), c.region.as_str()), ("p1", "eu-nl"));
        assert_eq!(c.domain_id.as_deref(), Some("d1"));
        assert_eq!(c.project_name, None);
        assert!(derived.is_empty(), "{derived:?}");
        let named = event(
            "s",
            &[
                ("project", "p1"),
                ("region", "eu-nl"),
                ("projectname", "eu-nl_münchen"),
            ],
        );
        assert_eq!(
            derive(&named, &t).0.project_name.as_deref(),
            Some("eu-nl_münchen")
        );
    }

    #[test]
    fn the_original_exporters_event() {
        let e = event(
            &format!("http://127.0.0.1:18732/v2.0/{P}/"),
            &[
                ("tenant", P),
                ("region", "eu-de"),
                ("domain", D),
                ("status", ""),
            ],
        );
        let t = trace(json!({"trace_id": "a"}));
        let (c, derived) = derive(&e, &t);
        assert_eq!((c.project_id.as_str(), c.region.as_str()), (P, "eu-de"));
        assert_eq!(derived, vec![d("project", "tenant_extension")]);
        assert_eq!(rating_from_extensions(&e, &t), None, "an empty status");
    }

    #[test]
    fn derived_from_the_source_and_the_trace() {
        let t = trace(json!({
            "trace_id": "a",
            "endpoint": "https://evs.eu-de.otc.t-systems.com",
            "resource_url": format!("/v2/{P}/cloudvolumes"),
            "user": {"domain": {"id": D}},
        }));
        // A junk tenant is passed over; the source path has no project.
        let e = event(
            "/v3/proj?x",
            &[("tenant", "'; MATCH (n) DETACH DELETE n //")],
        );
        let (c, derived) = derive(&e, &t);
        assert_eq!((c.project_id.as_str(), c.region.as_str()), (P, "eu-de"));
        assert_eq!(c.domain_id.as_deref(), Some(D));
        assert_eq!(
            derived,
            vec![
                d("project", "resource_url"),
                d("region", "endpoint"),
                d("domain", "user_domain")
            ]
        );
        let other = "0123456789abcdef0123456789abcdef";
        let e = event(
            &format!("https://cts.eu-nl.otc.t-systems.com/v1.0/{other}/"),
            &[],
        );
        let t = trace(json!({"trace_id": "a", "resource_url": format!("/v2/{P}/x")}));
        let (c, derived) = derive(&e, &t);
        assert_eq!((c.project_id.as_str(), c.region.as_str()), (other, "eu-nl"));
        assert_eq!(
            derived,
            vec![
                d("project", "source"),
                d("region", "source"),
                d("domain", "none")
            ]
        );
    }

    #[test]
    fn nothing_to_derive_gives_the_placeholder() {
        let e = event("urn:example:\u{202e}", &[("tenant", "acme")]);
        let t = trace(
            json!({"trace_id": "a", "endpoint": "b\u{fc}cket", "user": {"domain": {"id": "x"}}}),
        );
        let (c, derived) = derive(&e, &t);
        assert_eq!(
            (c.project_id.as_str(), c.region.as_str()),
            (UNKNOWN, UNKNOWN)
        );
        assert_eq!(c.domain_id, None);
        assert_eq!(
            derived,
            vec![
                d("project", "placeholder"),
                d("region", "placeholder"),
                d("domain", "none")
            ]
        );
        for got in derived {
            assert!(ALL.contains(&got), "{got:?} is pre-registered");
        }
    }

    #[test]
    fn status_from_the_extensions_only_when_the_trace_has_none() {
        let t = trace(json!({"trace_id": "a"}));
        let e = event("s", &[("status", "Warning")]);
        assert_eq!(
            rating_from_extensions(&e, &t),
            Some((TraceRating::Warning, d("status", "status_extension")))
        );
        let e = event("s", &[("rating", "incident"), ("status", "normal")]);
        assert_eq!(
            rating_from_extensions(&e, &t).map(|r| r.0),
            Some(TraceRating::Incident)
        );
        let e = event("s", &[("status", "x".repeat(10_000).as_str())]);
        assert_eq!(rating_from_extensions(&e, &t), None, "junk is ignored");
        let rated = trace(json!({"trace_id": "a", "trace_rating": "normal"}));
        let e = event("s", &[("status", "incident")]);
        assert_eq!(rating_from_extensions(&e, &rated), None, "the trace wins");
    }
}
