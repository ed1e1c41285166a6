//! The hostile-input table, part three: every trace arrives, whatever its
//! text and whoever sent it.
//!
//! - every `ce-*` attribute with non-ASCII text (umlauts, CJK, the
//!   right-to-left override U+202E, emoji), raw UTF-8 and percent-encoded
//!   (CloudEvents HTTP binding 1.0.2, section 3.1.3.2), quoted strings and
//!   encoded control characters: stored, and the decoded text reads back;
//! - malformed percent-encoding and bytes that are not UTF-8: 400
//!   `invalid_attribute` naming the header and the fix;
//! - oversize encoded headers: stored;
//! - events from other producers (no `project`/`region`/`domain`, the
//!   original exporter's `tenant`/`status` and types, foreign types): stored
//!   with the derived context or the placeholder `unknown`.

use crate::cases::{binary, ev, structured, tid, with, with_data, without, without_data};
use crate::model::Case;
use serde_json::{json, Value};

const Q_PROJECT: &str = "MATCH (a:Action {traceId: $id}) RETURN a.projectId AS v";
const Q_REGION: &str = "MATCH (a:Action {traceId: $id}) RETURN a.region AS v";
const Q_RESOURCE_NAME: &str = "MATCH (a:Action {traceId: $id}) RETURN a.resourceName AS v";
const Q_USER_NAME: &str = "MATCH (a:Action {traceId: $id}) RETURN a.userName AS v";
const Q_STATUS: &str = "MATCH (a:Action {traceId: $id}) RETURN a.status AS v";
const Q_TENANT_DOMAIN: &str = "MATCH (:Action {traceId: $id})-[:APPLIED_ON]->(:Resource)-[:MEMBER_OF]->(t:Tenant) RETURN t.domainId AS v";

/// `bücket-名前-` and the right-to-left override, as in issue 12.
pub const BUCKET: &str = "b\u{fc}cket-\u{540d}\u{524d}-\u{202e}";
pub const USER: &str = "j\u{fc}rgen";
/// A grinning face, a rainbow flag (a ZWJ sequence with a variation selector).
pub const EMOJI: &str = "\u{1f600}\u{1f3f3}\u{fe0f}\u{200d}\u{1f308}";

/// Percent-encodes as the HTTP binding says a sender must: space, `"`, `%`
/// and everything outside U+0021-U+007E, as the UTF-8 octets.
pub fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A 32-hex OTC-shaped id unique to the run (the run id is 12 hex digits).
pub fn hex_id(run: &str, n: u32) -> String {
    format!("{run}{n:020x}")
}

/// Raw UTF-8 or percent-encoded.
#[derive(Clone, Copy)]
enum Form {
    Raw,
    Pct,
}

impl Form {
    fn name(self) -> &'static str {
        match self {
            Form::Raw => "raw",
            Form::Pct => "pct",
        }
    }

    fn encode(self, s: &str) -> Vec<u8> {
        match self {
            Form::Raw => s.as_bytes().to_vec(),
            Form::Pct => pct(s).into_bytes(),
        }
    }
}

pub fn cases(run: &str) -> Vec<Case> {
    let r = run;
    let mut v = Vec::new();

    // Issue 12's trace: resource `bücket-名前-` + U+202E, user `jürgen`, in the data
    // and in ce-subject / ce-user, raw and percent-encoded.
    let cat = "non-ASCII headers";
    for form in [Form::Raw, Form::Pct] {
        let slug = format!("{}-bucket-juergen", form.name());
        let id = tid(r, &slug);
        let mut e = with_data(ev(r, &slug), "resource_name", json!(BUCKET));
        e["data"]["user"]["name"] = json!(USER);
        let req = binary(&e)
            .header("ce-subject", form.encode(BUCKET))
            .header("ce-user", form.encode(USER));
        v.push(
            Case::stored(cat, slug, req, &[&id])
                .check("resource name", Q_RESOURCE_NAME, &id, BUCKET)
                .check("user name", Q_USER_NAME, &id, USER),
        );
    }

    // Every attribute the exporter sends, and a foreign extension, with
    // non-ASCII text in both forms. The context ones read back decoded.
    for form in [Form::Raw, Form::Pct] {
        // A raw `%` would be malformed percent-encoding (refused below), so
        // the raw form's text has none.
        let text = match form {
            Form::Raw => format!("{BUCKET}{EMOJI} \"q\" 100"),
            Form::Pct => format!("{BUCKET}{EMOJI} \"q\" 100%"),
        };
        for attr in [
            "id",
            "source",
            "type",
            "subject",
            "project",
            "region",
            "domain",
            "tracker",
            "service",
            "operation",
            "rating",
            "resourcetype",
            "resourceid",
            "user",
            "vendorext",
        ] {
            let slug = format!("{}-{attr}", form.name());
            let id = tid(r, &slug);
            let value = match attr {
                "type" => format!("com.otc.cts.trace.{text}"),
                "project" | "region" => format!("{text}-{r}"),
                _ => text.clone(),
            };
            let req = binary(&ev(r, &slug)).header(&format!("ce-{attr}"), form.encode(&value));
            let c = Case::stored(cat, slug, req, &[&id]);
            v.push(match attr {
                "project" => c.check("project", Q_PROJECT, &id, &value),
                "region" => c.check("region", Q_REGION, &id, &value),
                _ => c,
            });
        }
    }
    // The spec's own example and lower-case hex.
    let id = tid(r, "pct-spec-example");
    v.push(
        Case::stored(
            cat,
            "pct-spec-example",
            binary(&ev(r, "pct-spec-example"))
                .header("ce-project", format!("Euro%20%E2%82%AC%20%F0%9F%98%80-{r}")),
            &[&id],
        )
        .check(
            "project",
            Q_PROJECT,
            &id,
            &format!("Euro \u{20ac} \u{1f600}-{r}"),
        ),
    );
    let id = tid(r, "pct-lower-case");
    v.push(
        Case::stored(
            cat,
            "pct-lower-case",
            binary(&ev(r, "pct-lower-case")).header("ce-region", "eu-d%c3%a9"),
            &[&id],
        )
        .check("region", Q_REGION, &id, "eu-d\u{e9}"),
    );
    // A quoted-string (RFC 7230) is unquoted before decoding.
    let id = tid(r, "quoted-project");
    v.push(
        Case::stored(
            cat,
            "quoted-project",
            binary(&ev(r, "quoted-project"))
                .header("ce-project", format!("\"{r} \\\"q\\\" %C3%BC\"")),
            &[&id],
        )
        .check("project", Q_PROJECT, &id, &format!("{r} \"q\" \u{fc}")),
    );
    // Control characters, only percent-encoded (HTTP forbids them raw; a
    // tab is allowed raw): stored as they are, like `\u0000` in JSON.
    let id = tid(r, "pct-control-chars");
    v.push(
        Case::stored(
            cat,
            "pct-control-chars",
            binary(&ev(r, "pct-control-chars"))
                .header("ce-project", format!("p%00%0A%0D%1B%7F%C2%85-{r}"))
                .header("ce-subject", "%00"),
            &[&id],
        )
        .check(
            "project",
            Q_PROJECT,
            &id,
            &format!("p\u{0}\n\r\u{1b}\u{7f}\u{85}-{r}"),
        ),
    );
    let id = tid(r, "raw-tab");
    v.push(
        Case::stored(
            cat,
            "raw-tab",
            binary(&ev(r, "raw-tab")).header("ce-project", format!("a\tb-{r}")),
            &[&id],
        )
        .check("project", Q_PROJECT, &id, &format!("a\tb-{r}")),
    );
    // The time may be percent-encoded too.
    let id = tid(r, "pct-time");
    v.push(Case::stored(
        cat,
        "pct-time",
        binary(&ev(r, "pct-time")).header("ce-time", "2023-11-14T22%3A13%3A20%2B01%3A00"),
        &[&id],
    ));
    // Oversize: 45 kB of encoded CJK in one header, 45 kB raw in another.
    let id = tid(r, "pct-oversize-subject");
    v.push(Case::stored(
        "size",
        "pct-oversize-subject",
        binary(&ev(r, "pct-oversize-subject")).header("ce-subject", pct(&"\u{540d}".repeat(5_000))),
        &[&id],
    ));
    let id = tid(r, "raw-oversize-user");
    v.push(Case::stored(
        "size",
        "raw-oversize-user",
        binary(&ev(r, "raw-oversize-user")).header("ce-user", "\u{540d}".repeat(15_000)),
        &[&id],
    ));
    // Structured and batch mode carry the same text as JSON.
    let slug = "structured-non-ascii-everywhere";
    let id = tid(r, slug);
    let mut e = with_data(ev(r, slug), "resource_name", json!(BUCKET));
    for attr in ["subject", "user", "service", "tracker", "operation"] {
        e[attr] = json!(format!("{BUCKET}{EMOJI}\u{0}"));
    }
    e["project"] = json!(format!("{BUCKET}{EMOJI}-{r}"));
    e["data"]["user"]["name"] = json!(format!("{USER}{EMOJI}"));
    v.push(
        Case::stored(cat, slug, structured(&e), &[&id])
            .check("resource name", Q_RESOURCE_NAME, &id, BUCKET)
            .check("user name", Q_USER_NAME, &id, &format!("{USER}{EMOJI}"))
            .check("project", Q_PROJECT, &id, &format!("{BUCKET}{EMOJI}-{r}")),
    );
    let slug = "batch-non-ascii";
    let id = tid(r, slug);
    let e = with(ev(r, slug), "region", json!(format!("\u{202e}{EMOJI}-{r}")));
    v.push(
        Case::stored(cat, slug, crate::cases::batch(&[e]), &[&id]).check(
            "region",
            Q_REGION,
            &id,
            &format!("\u{202e}{EMOJI}-{r}"),
        ),
    );

    // Values that are no valid percent-encoding but UTF-8 text (a sender that did not encode, as
    // sdk-go and the original exporter do not): taken literally and stored, never refused.
    let cat = "literal percent signs";
    let literal: [(&str, &str); 9] = [
        ("lone-percent", "%"),
        ("trailing-percent", "100%"),
        ("percent-g1", "%G1"),
        ("percent-one-digit", "ab%4"),
        ("c3-alone", "%C3"),
        ("c3-then-ascii", "%C3%28"),
        ("overlong-space", "%C0%A0"),
        ("encoded-surrogate", "%ED%A0%80"),
        ("percent-and-umlaut", "50% f\u{fc}r j\u{fc}rgen"),
    ];
    let free_text = [
        "ce-subject",
        "ce-user",
        "ce-id",
        "ce-tracker",
        "ce-resourcetype",
    ];
    for (i, (slug, value)) in literal.iter().enumerate() {
        let header = free_text[i % free_text.len()];
        let slug = format!("literal-{slug}-{}", header.trim_start_matches("ce-"));
        let id = tid(r, &slug);
        v.push(Case::stored(
            cat,
            slug.clone(),
            binary(&ev(r, &slug)).header(header, value.as_bytes()),
            &[&id],
        ));
    }
    let slug = "literal-percent-region";
    let id = tid(r, slug);
    let region = format!("eu-de-{r}-100%");
    v.push(
        Case::stored(
            cat,
            slug,
            binary(&ev(r, slug)).header("ce-region", region.as_bytes()),
            &[&id],
        )
        .check("region", Q_REGION, &id, &region),
    );

    // Header bytes that are no UTF-8 at all (Latin-1 text, a cut character), in headers of every
    // kind: 400 naming the header and the fix.
    let cat = "bad header encoding";
    let bad: [(&str, &[u8]); 2] = [
        ("raw-latin1", b"j\xfcrgen"),
        ("raw-truncated-utf8", b"\xe5\x90"),
    ];
    let headers = [
        "ce-subject",
        "ce-user",
        "ce-id",
        "ce-project",
        "ce-source",
        "ce-type",
        "ce-region",
        "ce-specversion",
        "ce-time",
        "ce-tracker",
        "ce-domain",
    ];
    for (slug, value) in bad.iter() {
        for header in headers {
            let slug = format!("bad-{slug}-{}", header.trim_start_matches("ce-"));
            let mut c = Case::refused(
                cat,
                slug.clone(),
                binary(&ev(r, &slug)).header(header, *value),
                400,
                "invalid_attribute",
                &tid(r, &slug),
            );
            c.detail_has = vec![header.to_string(), "percent-encode".to_string()];
            v.push(c);
        }
    }

    // Other producers: no context extensions, the original exporter's
    // shape, foreign types. Stored, with what can be derived.
    let cat = "other producers";
    let no_context =
        |slug: &str| without(without(without(ev(r, slug), "project"), "region"), "domain");
    for (slug, req) in [
        (
            "no-context-structured",
            structured(&no_context("no-context-structured")),
        ),
        (
            "no-context-binary",
            binary(&no_context("no-context-binary")),
        ),
    ] {
        let id = tid(r, slug);
        // The source host says eu-de; nothing says the project.
        v.push(
            Case::stored(cat, slug, req, &[&id])
                .check("project", Q_PROJECT, &id, "unknown")
                .check("region", Q_REGION, &id, "eu-de"),
        );
    }
    let id = tid(r, "blank-project");
    v.push(
        Case::stored(
            cat,
            "blank-project",
            structured(&with(ev(r, "blank-project"), "project", json!(" "))),
            &[&id],
        )
        .check("project", Q_PROJECT, &id, "unknown"),
    );
    let hex = hex_id(r, 1);
    let id = tid(r, "tenant-extension");
    v.push(
        Case::stored(
            cat,
            "tenant-extension",
            binary(&with(
                without(ev(r, "tenant-extension"), "project"),
                "tenant",
                json!(hex),
            )),
            &[&id],
        )
        .check("project", Q_PROJECT, &id, &hex),
    );
    let id = tid(r, "tenant-junk");
    v.push(
        Case::stored(
            cat,
            "tenant-junk",
            structured(&with(
                without(ev(r, "tenant-junk"), "project"),
                "tenant",
                json!(format!("{r}'}}) CREATE (:Pwned_{r}) //")),
            )),
            &[&id],
        )
        .check("project", Q_PROJECT, &id, "unknown"),
    );
    let hex2 = hex_id(r, 2);
    let slug = "project-from-source";
    let id = tid(r, slug);
    let e = with(
        no_context(slug),
        "source",
        json!(format!("https://cts.eu-nl.otc.t-systems.com/v2.0/{hex2}/")),
    );
    v.push(
        Case::stored(cat, slug, binary(&e), &[&id])
            .check("project", Q_PROJECT, &id, &hex2)
            .check("region", Q_REGION, &id, "eu-nl"),
    );
    let hex3 = hex_id(r, 3);
    let domain = hex_id(r, 4);
    let slug = "context-from-trace";
    let id = tid(r, slug);
    let mut e = with(no_context(slug), "source", json!("urn:example:producer"));
    e["data"]["resource_url"] = json!(format!("/v2/{hex3}/cloudservers/x/action"));
    e["data"]["endpoint"] = json!("https://ecs.eu-ch2.sc.otc.t-systems.com");
    e["data"]["user"]["domain"]["id"] = json!(domain);
    v.push(
        Case::stored(cat, slug, structured(&e), &[&id])
            .check("project", Q_PROJECT, &id, &hex3)
            .check("region", Q_REGION, &id, "eu-ch2")
            .check("tenant domain", Q_TENANT_DOMAIN, &id, &domain),
    );
    let slug = "nothing-derivable";
    let id = tid(r, slug);
    let mut e = with(
        no_context(slug),
        "source",
        json!(format!("urn:example:{BUCKET}")),
    );
    e["data"]["resource_url"] = json!("/v2/not-a-project/x");
    e["data"]["endpoint"] = json!(format!("https://{BUCKET}.t-systems.com"));
    v.push(
        Case::stored(cat, slug, binary(&e), &[&id])
            .check("project", Q_PROJECT, &id, "unknown")
            .check("region", Q_REGION, &id, "unknown"),
    );
    // The original Go exporter's shape: its type scheme, `tenant`, an empty
    // `status`, `code`, `resourceid`, a v2 source; no rating in the data.
    let hex5 = hex_id(r, 5);
    let slug = "original-exporter-shape";
    let id = tid(r, slug);
    let e = json!({
        "specversion": "1.0",
        "id": id,
        "source": format!("http://127.0.0.1:18732/v2.0/{hex5}/"),
        "type": "vpc.apicall.eip.deleteeip",
        "subject": BUCKET,
        "time": "2026-12-07T03:21:02.836Z",
        "tenant": hex5,
        "region": "eu-de",
        "domain": hex_id(r, 6),
        "status": "",
        "code": "400",
        "resourceid": "d502809d-0d1d-41ce-9690-784282142ccc",
        "datacontenttype": "application/json",
        "data": without_data(ev(r, slug), "trace_rating")["data"].clone(),
    });
    v.push(
        Case::stored(cat, slug, binary(&e), &[&id])
            .check("project", Q_PROJECT, &id, &hex5)
            .check("status", Q_STATUS, &id, "unknown"),
    );
    let slug = "status-extension";
    let id = tid(r, slug);
    let e = with(
        without(without_data(ev(r, slug), "trace_rating"), "rating"),
        "status",
        json!("Incident"),
    );
    v.push(Case::stored(cat, slug, binary(&e), &[&id]).check("status", Q_STATUS, &id, "incident"));
    let slug = "status-extension-junk";
    let id = tid(r, slug);
    let e = with(
        without(without_data(ev(r, slug), "trace_rating"), "rating"),
        "status",
        json!(format!("{BUCKET}{}", "x".repeat(5000))),
    );
    v.push(Case::stored(cat, slug, binary(&e), &[&id]).check("status", Q_STATUS, &id, "unknown"));
    for (slug, ty) in [
        ("foreign-type", "org.example.other"),
        ("non-ascii-type", "com.example.\u{540d}\u{524d}.\u{202e}"),
    ] {
        let id = tid(r, slug);
        v.push(Case::stored(
            cat,
            slug,
            structured(&with(ev(r, slug), "type", Value::String(ty.into()))),
            &[&id],
        ));
    }
    v
}
