//! The hostile-input table, part two: events that are valid and must be
//! stored exactly as sent: Cypher injection attempts in every string field
//! (attributes, extensions, trace fields, in binary and structured mode),
//! NUL characters, very long strings, extreme but valid numbers, duplicates.
//! Every payload would create a label, property or relationship type named
//! after the run if it were executed; the suite checks none exists.

use crate::cases::{binary, structured, tid, CE_JSON};
use crate::common::event;
use crate::model::{Case, Req};
use serde_json::{json, Value};

const Q_TRACE_ID: &str = "MATCH (a:Action {traceId: $id}) RETURN a.traceId AS v";
const Q_NAME: &str = "MATCH (a:Action {traceId: $id}) RETURN a.name AS v";
const Q_USER_NAME: &str =
    "MATCH (:Action {traceId: $id})-[:PERFORMED_BY]->(u:User) RETURN u.name AS v";
const Q_USER_ID: &str = "MATCH (:Action {traceId: $id})-[:PERFORMED_BY]->(u:User) RETURN u.id AS v";
const Q_DOMAIN_NAME: &str =
    "MATCH (:Action {traceId: $id})-[:PERFORMED_BY]->(u:User) RETURN u.domainName AS v";
const Q_RESOURCE_NAME: &str =
    "MATCH (:Action {traceId: $id})-[:APPLIED_ON]->(r:Resource) RETURN r.name AS v";
const Q_RESOURCE_ID: &str =
    "MATCH (:Action {traceId: $id})-[:APPLIED_ON]->(r:Resource) RETURN r.id AS v";
const Q_RESOURCE_TYPE: &str =
    "MATCH (:Action {traceId: $id})-[:APPLIED_ON]->(r:Resource) RETURN r.type AS v";
const Q_SOURCE_IP: &str =
    "MATCH (:Action {traceId: $id})-[:FROM_IP]->(i:IpAddress) RETURN i.address AS v";
const Q_REQUEST_ID: &str = "MATCH (a:Action {traceId: $id}) RETURN a.requestId AS v";
const Q_REQUEST: &str = "MATCH (a:Action {traceId: $id}) RETURN a.request AS v";
const Q_MESSAGE: &str = "MATCH (a:Action {traceId: $id}) RETURN a.message AS v";
const Q_CODE: &str = "MATCH (a:Action {traceId: $id}) RETURN a.code AS v";
const Q_TRACE_TYPE: &str = "MATCH (a:Action {traceId: $id}) RETURN a.traceType AS v";
const Q_API_VERSION: &str = "MATCH (a:Action {traceId: $id}) RETURN a.apiVersion AS v";
const Q_EXTRA: &str = "MATCH (a:Action {traceId: $id}) RETURN a.extra AS v";
const Q_PROJECT: &str = "MATCH (:Action {traceId: $id})-[:APPLIED_ON]->(:Resource)-[:MEMBER_OF]->(t:Tenant) RETURN t.projectId AS v";
const Q_REGION: &str = "MATCH (a:Action {traceId: $id}) RETURN a.region AS v";
const Q_DOMAIN_ID: &str = "MATCH (a:Action {traceId: $id}) RETURN a.domainId AS v";
const Q_REQUEST_SIZE: &str =
    "MATCH (a:Action {traceId: $id}) RETURN toString(size(a.request)) AS v";
const Q_MESSAGE_SIZE: &str =
    "MATCH (a:Action {traceId: $id}) RETURN toString(size(a.message)) AS v";
const Q_TIME_MS: &str = "MATCH (a:Action {traceId: $id}) RETURN toString(a.timeMs) AS v";
const Q_TRACE_ID_FULL: &str =
    "MATCH (a:Action {traceId: $id}) RETURN coalesce(a.traceIdFull, a.traceId) AS v";
const Q_NAME_FULL: &str =
    "MATCH (a:Action {traceId: $id}) RETURN coalesce(a.nameFull, a.name) AS v";
const Q_USER_NAME_FULL: &str = "MATCH (a:Action {traceId: $id})-[:PERFORMED_BY]->(u:User) \
     RETURN coalesce(u.nameFull, u.name) AS v";
pub const Q_COUNT: &str = "MATCH (a:Action {traceId: $id}) RETURN toString(count(a)) AS v";

/// Injection payloads; each names the run in the label, property or
/// relationship type it would create if it ran as Cypher. None starts or
/// ends with white space (the graph trims values).
pub fn payloads(run: &str) -> Vec<String> {
    vec![
        format!("{run}'}}) CREATE (p:Pwned_{run}) RETURN p //"),
        format!("{run}\"}}) CREATE (p:Pwned_{run} {{pwned_{run}: true}}) //"),
        format!("{run}`}}) MERGE (x)-[:PWNED_{run}]->(y) //"),
        format!("{run}\\' OR 1=1 WITH 1 AS x CREATE (:Pwned_{run}) //"),
        format!("{run}$id}}) SET a:Pwned_{run} //"),
        format!("{run}'}}) WITH a CALL {{ CREATE (:Pwned_{run}) }} RETURN a //"),
        format!("{run}; MATCH (n:Pwned_{run}) DETACH DELETE n; CREATE (:Pwned_{run})"),
        format!("{run}{{{{pwned_{run}}}}} :param pwned_{run} => 1"),
        format!("{run}\u{2019}}}) CREATE (:Pwned_{run}) \u{201d}//"),
        format!("{run}\\u0027}}) CREATE (:Pwned_{run}) //"),
    ]
}

fn p(payloads: &[String], i: usize) -> String {
    payloads[i % payloads.len()].clone()
}

pub fn accepted(run: &str) -> Vec<Case> {
    let r = run;
    let ps = payloads(r);
    let mut v = Vec::new();

    // Injection in the trace fields (structured mode), each read back verbatim.
    let cat = "injection (trace fields)";
    let fields: [(&str, &'static str, &[&str]); 13] = [
        ("trace_name", Q_NAME, &["trace_name"]),
        ("user.name", Q_USER_NAME, &["user", "name"]),
        ("user.id", Q_USER_ID, &["user", "id"]),
        (
            "user.domain.name",
            Q_DOMAIN_NAME,
            &["user", "domain", "name"],
        ),
        ("resource_name", Q_RESOURCE_NAME, &["resource_name"]),
        ("resource_id", Q_RESOURCE_ID, &["resource_id"]),
        ("resource_type", Q_RESOURCE_TYPE, &["resource_type"]),
        ("source_ip", Q_SOURCE_IP, &["source_ip"]),
        ("request_id", Q_REQUEST_ID, &["request_id"]),
        ("request", Q_REQUEST, &["request"]),
        ("message", Q_MESSAGE, &["message"]),
        ("code", Q_CODE, &["code"]),
        ("trace_type", Q_TRACE_TYPE, &["trace_type"]),
    ];
    for (i, (field, q, path)) in fields.into_iter().enumerate() {
        let slug = format!("inj-{}", field.replace('.', "-"));
        let id = tid(r, &slug);
        let payload = p(&ps, i);
        let mut e = event(&id, r);
        let mut at = &mut e["data"];
        for key in path {
            at = &mut at[*key];
        }
        *at = json!(payload);
        // Users and resources are shared nodes, keyed by user name and resource
        // id: give this event its own, so no other event overwrites the value.
        if path[0] == "user" && path[1] != "name" {
            e["data"]["user"]["name"] = json!(format!("{id}-user"));
        }
        if field == "resource_name" {
            e["data"]["resource_id"] = json!(format!("{id}-resource"));
        }
        v.push(Case::stored(cat, &slug, structured(&e), &[&id]).check(field, q, &id, &payload));
    }
    let id = tid(r, "inj-api-version");
    let payload = p(&ps, 3);
    v.push(
        Case::stored(
            cat,
            "inj-api-version",
            binary(&with_data(event(&id, r), "api_version", payload.as_str())),
            &[&id],
        )
        .check("api_version", Q_API_VERSION, &id, &payload),
    );
    // The trace id itself (also the event id) and an unknown field name and value (kept in `extra`).
    let id = format!("{}-inj-trace-id", p(&ps, 0));
    v.push(
        Case::stored(cat, "inj-trace-id", structured(&event(&id, r)), &[&id])
            .check("trace_id", Q_TRACE_ID, &id, &id),
    );
    let id = tid(r, "inj-unknown-field");
    let (key, value) = (p(&ps, 1), p(&ps, 2));
    let e = with_data(event(&id, r), &key, value.as_str());
    let extra = serde_json::to_string(&json!({ key: value })).expect("json");
    v.push(
        Case::stored(cat, "inj-unknown-field", structured(&e), &[&id])
            .check("extra", Q_EXTRA, &id, &extra),
    );

    // Injection in the CloudEvents attributes and extensions, both modes.
    let cat = "injection (attributes)";
    let attrs: [(&str, Option<&'static str>); 12] = [
        ("id", None),
        ("source", None),
        ("type", None),
        ("subject", None),
        ("project", Some(Q_PROJECT)),
        ("region", Some(Q_REGION)),
        ("domain", Some(Q_DOMAIN_ID)),
        ("user", None),
        ("service", None),
        ("operation", None),
        ("resourceid", None),
        ("tracker", None),
    ];
    for (i, (attr, q)) in attrs.into_iter().enumerate() {
        for (mode, bin) in [("structured", false), ("binary", true)] {
            let slug = format!("inj-{attr}-{mode}");
            let id = tid(r, &slug);
            let mut payload = p(&ps, i + usize::from(bin));
            if attr == "type" {
                payload = format!("com.otc.cts.trace.{payload}");
            }
            if bin && !payload.is_ascii() {
                // Header values are ASCII; the non-ASCII payload goes in structured mode.
                payload = p(&ps, 0);
            }
            let mut e = with(event(&id, r), attr, json!(payload));
            if attr == "domain" {
                // The action takes the trace's own domain id first; drop it so the extension counts.
                e["data"]["user"]["domain"]
                    .as_object_mut()
                    .expect("domain")
                    .remove("id");
            }
            let req = if bin { binary(&e) } else { structured(&e) };
            let mut case = Case::stored(cat, &slug, req, &[&id]);
            if let Some(q) = q {
                case = case.check(attr, q, &id, &payload);
            }
            v.push(case);
        }
    }

    // NUL characters (escaped in JSON, so the JSON is valid) are stored as sent.
    let cat = "NUL characters";
    let id = tid(r, "nul-in-fields");
    let name = format!("nul\u{0}in\u{0}name-{r}");
    let user = format!("user\u{0}{r}");
    let e = with_data(
        with_data(event(&id, r), "trace_name", name.as_str()),
        "resource_name",
        user.as_str(),
    );
    let e = with_data(e, "resource_id", format!("{id}-resource"));
    v.push(
        Case::stored(cat, "nul-in-trace-fields", structured(&e), &[&id])
            .check("trace_name", Q_NAME, &id, &name)
            .check("resource_name", Q_RESOURCE_NAME, &id, &user),
    );
    let id = format!("{r}-nul\u{0}in-trace-id");
    v.push(
        Case::stored(cat, "nul-in-trace-id", structured(&event(&id, r)), &[&id])
            .check("trace_id", Q_TRACE_ID, &id, &id),
    );
    let id = tid(r, "nul-in-project");
    let project = format!("proj\u{0}{r}");
    v.push(
        Case::stored(
            cat,
            "nul-in-project-extension",
            structured(&with(event(&id, r), "project", json!(project))),
            &[&id],
        )
        .check("project", Q_PROJECT, &id, &project),
    );

    // Very long strings: accepted up to the body limit where nothing indexes them.
    let cat = "long strings";
    let id = tid(r, "long-request");
    let long = "n".repeat(900_000);
    v.push(
        Case::stored(
            cat,
            "900k-char request text",
            structured(&with_data(event(&id, r), "request", long.as_str())),
            &[&id],
        )
        .check("size(request)", Q_REQUEST_SIZE, &id, "900000"),
    );
    let id = tid(r, "long-message");
    v.push(
        Case::stored(
            cat,
            "300k-char message, binary",
            binary(&with_data(event(&id, r), "message", "m".repeat(300_000))),
            &[&id],
        )
        .check("size(message)", Q_MESSAGE_SIZE, &id, "300000"),
    );
    let id = tid(r, "long-event-id");
    v.push(Case::stored(
        cat,
        "100k-char event id",
        structured(&with(event(&id, r), "id", json!("i".repeat(100_000)))),
        &[&id],
    ));
    let id = tid(r, "long-source-header");
    v.push(Case::stored(
        cat,
        "50k-char ce-source header",
        binary(&with(
            event(&id, r),
            "source",
            json!(format!("https://cts/{}", "s".repeat(50_000))),
        )),
        &[&id],
    ));
    // Indexed values longer than an index entry are stored in full and indexed in a shortened form
    // (docs/graph-model.md, "Long values"): never refused.
    let id = format!("{r}-long-trace-id-{}", "t".repeat(5000));
    v.push(
        Case::stored(
            cat,
            "5000-char trace_id",
            structured(&event(&id, r)),
            &[&id],
        )
        .check(
            "traceIdFull",
            Q_TRACE_ID_FULL,
            &trace_graph::index_form(&id),
            &id,
        ),
    );
    let id = tid(r, "long-trace-name");
    let name = "n".repeat(5000);
    v.push(
        Case::stored(
            cat,
            "5000-char trace_name (indexed)",
            structured(&with_data(event(&id, r), "trace_name", name.as_str())),
            &[&id],
        )
        .check("name", Q_NAME_FULL, &id, &name),
    );
    let id = tid(r, "long-user-name");
    let user = "ü".repeat(5000);
    v.push(
        Case::stored(
            cat,
            "10000-byte user name",
            structured(&with_user_name(event(&id, r), &user)),
            &[&id],
        )
        .check("User.name", Q_USER_NAME_FULL, &id, &user),
    );

    // Extreme but valid numbers.
    let cat = "numbers";
    for (slug, t) in [
        ("time-negative", -1_i64),
        ("time-zero", 0),
        ("time-year-9999", 253_402_300_799_000),
    ] {
        let id = tid(r, slug);
        v.push(
            Case::stored(
                cat,
                slug,
                structured(&with_data(event(&id, r), "time", t)),
                &[&id],
            )
            .check("timeMs", Q_TIME_MS, &id, &t.to_string()),
        );
    }
    let id = tid(r, "time-i64-max");
    v.push(Case::stored(
        cat,
        "time-i64-max",
        structured(&with_data(event(&id, r), "time", i64::MAX)),
        &[&id],
    ));
    let id = tid(r, "time-as-string");
    v.push(
        Case::stored(
            cat,
            "time-as-string",
            structured(&with_data(event(&id, r), "time", "1700000000000")),
            &[&id],
        )
        .check("timeMs", Q_TIME_MS, &id, "1700000000000"),
    );
    let id = tid(r, "code-huge-number");
    let body = serde_json::to_string(&event(&id, r))
        .expect("json")
        .replace(
            "\"code\":\"400\"",
            "\"code\":123456789012345678901234567890",
        );
    v.push(Case::stored(
        cat,
        "code-huge-number",
        Req::post(Some(CE_JSON), body.into()),
        &[&id],
    ));

    // Duplicates: sent again later, and with the same event id but another trace.
    let cat = "duplicates";
    let id = tid(r, "dup");
    v.push(Case::stored(
        cat,
        "first delivery",
        structured(&event(&id, r)),
        &[&id],
    ));
    v.push(
        Case::stored(
            cat,
            "same event again (binary)",
            binary(&event(&id, r)),
            &[&id],
        )
        .check("count", Q_COUNT, &id, "1"),
    );
    let other = tid(r, "dup-other-trace");
    let mut e = event(&other, r);
    e["id"] = json!(id);
    v.push(
        Case::stored(cat, "same event id, other trace", structured(&e), &[&other])
            .check("count", Q_COUNT, &other, "1"),
    );

    // Modes and accepted variants of the content type.
    let cat = "modes";
    let id = tid(r, "binary-no-content-type");
    v.push(Case::stored(
        cat,
        "binary without Content-Type",
        binary(&event(&id, r)).without("content-type"),
        &[&id],
    ));
    let id = tid(r, "structured-charset");
    v.push(Case::stored(
        cat,
        "structured with charset",
        structured(&event(&id, r)).header(
            "content-type",
            "application/cloudevents+json; charset=utf-8",
        ),
        &[&id],
    ));
    let id = tid(r, "structured-upper-case");
    v.push(Case::stored(
        cat,
        "structured, upper-case type",
        structured(&event(&id, r)).header("content-type", "APPLICATION/CLOUDEVENTS+JSON"),
        &[&id],
    ));
    let id = tid(r, "structured-chunked");
    v.push(Case::stored(
        cat,
        "structured, chunked body",
        structured(&event(&id, r)).chunked(),
        &[&id],
    ));
    let id = tid(r, "data-base64");
    let mut e = event(&id, r);
    let data = serde_json::to_vec(&e["data"]).expect("json");
    e.as_object_mut().expect("object").remove("data");
    e["data_base64"] = json!(base64(&data));
    v.push(Case::stored(
        cat,
        "structured with data_base64",
        structured(&e),
        &[&id],
    ));
    v
}

fn with(mut e: Value, key: &str, value: Value) -> Value {
    e[key] = value;
    e
}

fn with_data(mut e: Value, key: &str, value: impl Into<Value>) -> Value {
    e["data"][key] = value.into();
    e
}

fn with_user_name(mut e: Value, name: &str) -> Value {
    e["data"]["user"]["name"] = json!(name);
    e
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
