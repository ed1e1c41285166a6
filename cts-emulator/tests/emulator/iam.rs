//! Token issue and use, token failures, project scoping, IAM lookups.

use std::time::Duration;

use cts_emulator::EmulatorConfig;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn token_issue_body_and_use() {
    let emu = start(EmulatorConfig {
        history_count: 30,
        history_span: std::time::Duration::from_secs(1800),
        ..EmulatorConfig::default()
    })
    .await;
    let p = &emu.projects()[0];
    let body = password_body(
        &emu,
        json!({"project": {"name": p.name, "domain": {"name": emu.domain().name}}}),
    );
    let r = client()
        .post(url(&emu, "v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let token = r.headers()["x-subject-token"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let v: serde_json::Value = r.json().await.expect("json");
    let t = &v["token"];
    assert!(
        v.get("token").is_some() && !serde_json::to_string(&v).expect("s").contains(&token),
        "token only in the header"
    );
    for field in ["expires_at", "issued_at"] {
        let s = t[field].as_str().expect(field);
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.6fZ")
            .expect("keystone time format");
        assert_eq!(s.len(), 27, "6 fractional digits + Z: {s}");
    }
    assert_eq!(t["user"]["name"], "demo-user");
    assert_eq!(t["user"]["domain"]["name"], emu.domain().name.as_str());
    assert_eq!(t["project"]["id"], p.id.as_str());
    assert_eq!(t["project"]["name"], "eu-de_demo");
    assert!(!t["roles"].as_array().expect("roles").is_empty());
    let catalog = t["catalog"].as_array().expect("catalog");
    let url_of = |ty: &str| {
        catalog.iter().find(|e| e["type"] == ty).map(|e| {
            let ep = &e["endpoints"][0];
            assert_eq!(ep["interface"], "public");
            assert_eq!(ep["region"], "eu-de");
            ep["url"].as_str().expect("url").to_owned()
        })
    };
    let base = emu.base_url().as_str().trim_end_matches('/').to_owned();
    assert_eq!(
        url_of("cts").as_deref(),
        Some(format!("{base}/v1.0/{}", p.id).as_str())
    );
    assert_eq!(
        url_of("ctsv2").as_deref(),
        Some(format!("{base}/v2.0/{}", p.id).as_str())
    );
    assert_eq!(
        url_of("identity").as_deref(),
        Some(format!("{base}/v3").as_str())
    );
    assert!(url_of("ctsv3").is_none(), "ctsv3 is off by default");
    // Nothing secret in the emulator's Debug output.
    let dbg = format!("{emu:?}");
    assert!(
        !dbg.contains(&token)
            && !dbg.contains(emu.credentials().password.expose())
            && !dbg.contains(emu.credentials().sk.expose())
    );
    // Identity version discovery at the auth_url.
    let r = get(&emu.iam_url(), &[]).await;
    assert_eq!(
        (r.status, r.body["version"]["status"].as_str()),
        (200, Some("stable"))
    );
    // The cts url + "system/trace" is what gophertelekomcloud calls.
    let r = get(
        &format!("{}/system/trace?limit=5", url_of("cts").expect("cts"))
            .parse()
            .expect("url"),
        &[("X-Auth-Token", token.clone())],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["meta_data"]["count"], 5);
}

#[tokio::test]
async fn project_scope_by_name_without_domain_and_by_id() {
    let emu = start(EmulatorConfig {
        history_count: 5,
        catalog_ctsv3: true,
        ..EmulatorConfig::default()
    })
    .await;
    let p = &emu.projects()[0];
    for scope in [
        json!({"project": {"name": p.name}}),
        json!({"project": {"id": p.id}}),
    ] {
        let r = client()
            .post(url(&emu, "v3/auth/tokens"))
            .json(&password_body(&emu, scope.clone()))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 201, "{scope}");
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["token"]["project"]["id"], p.id.as_str());
        assert!(v["token"]["catalog"]
            .as_array()
            .expect("catalog")
            .iter()
            .any(|e| e["type"] == "ctsv3"));
    }
    // nocatalog suppresses the catalog.
    let r = client()
        .post(url(&emu, "v3/auth/tokens?nocatalog=1"))
        .json(&password_body(&emu, json!({"project": {"id": p.id}})))
        .send()
        .await
        .expect("send");
    let v: serde_json::Value = r.json().await.expect("json");
    assert!(v["token"].get("catalog").is_none());
}

#[tokio::test]
async fn wrong_credentials_and_unknown_projects_get_keystone_errors() {
    let emu = start(EmulatorConfig {
        history_count: 0,
        ..EmulatorConfig::default()
    })
    .await;
    let mut body = password_body(&emu, json!({"project": {"name": "eu-de_demo"}}));
    body["auth"]["identity"]["password"]["user"]["password"] = json!("wrong");
    let r = client()
        .post(url(&emu, "v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["title"], "Unauthorized");
    assert!(!v.to_string().contains("demo-password"));

    let body = password_body(&emu, json!({"project": {"name": "eu-nl_nope"}}));
    let r = client()
        .post(url(&emu, "v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let v: serde_json::Value = r.json().await.expect("json");
    assert!(
        v["error"]["message"]
            .as_str()
            .expect("msg")
            .contains("eu-de_demo"),
        "names the known projects: {v}"
    );

    let r = client()
        .post(url(&emu, "v3/auth/tokens"))
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn invalid_missing_and_expired_tokens_are_refused() {
    let emu = start(EmulatorConfig {
        history_count: 5,
        token_ttl: Duration::from_secs(1),
        ..EmulatorConfig::default()
    })
    .await;
    let pid = emu.projects()[0].id.clone();
    let path = format!("v3/{pid}/traces");
    let r = get_with_token(&emu, "MIIEnotatoken", &path).await;
    assert_eq!(
        (r.status, r.body["error_code"].as_str()),
        (401, Some("APIG.0301"))
    );
    assert!(r.body["error_msg"]
        .as_str()
        .expect("msg")
        .contains("decrypt token fail"));
    assert!(r.body["request_id"].is_string());
    let r = get(&url(&emu, &path), &[]).await;
    assert_eq!(r.status, 401);
    assert!(r.body["error_msg"]
        .as_str()
        .expect("msg")
        .contains("x-auth-token not found"));

    let token = token(&emu, "eu-de_demo").await;
    assert_eq!(get_with_token(&emu, &token, &path).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = get_with_token(&emu, &token, &path).await;
    assert_eq!(r.status, 401);
    assert!(
        r.body["error_msg"]
            .as_str()
            .expect("msg")
            .contains("token expires, expires_at:"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn token_for_one_project_does_not_open_another() {
    let cfg = EmulatorConfig {
        projects: vec!["eu-de_a".into(), "eu-de_b".into()],
        history_count: 5,
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let (a, b) = (emu.projects()[0].clone(), emu.projects()[1].clone());
    let token = token(&emu, "eu-de_a").await;
    assert_eq!(
        get_with_token(&emu, &token, &format!("v3/{}/traces", a.id))
            .await
            .status,
        200
    );
    let r = get_with_token(&emu, &token, &format!("v3/{}/traces", b.id)).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error_code"], "CTS.0002");
    let r = get_with_token(&emu, &token, &format!("v2.0/{}/system/trace", b.id)).await;
    assert_eq!(r.status, 403);
    // An unscoped token opens no project.
    let body = password_body(&emu, serde_json::Value::Null);
    let r = client()
        .post(url(&emu, "v3/auth/tokens"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let unscoped = r.headers()["x-subject-token"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(
        get_with_token(&emu, &unscoped, &format!("v3/{}/traces", a.id))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn projects_by_name_and_catalog_for_token() {
    let cfg = EmulatorConfig {
        projects: vec!["eu-de_a".into(), "eu-nl_b".into()],
        history_count: 0,
        ..EmulatorConfig::default()
    };
    let emu = start(cfg).await;
    let token = token(&emu, "eu-nl_b").await;
    let r = get_with_token(&emu, &token, "v3/projects?name=eu-nl_b").await;
    assert_eq!(r.status, 200);
    let ps = r.body["projects"].as_array().expect("projects");
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0]["id"], emu.projects()[1].id.as_str());
    assert_eq!(ps[0]["domain_id"], emu.domain().id.as_str());
    assert!(r.body["links"]["self"].is_string());
    let r = get_with_token(&emu, &token, "v3/projects").await;
    assert_eq!(r.body["projects"].as_array().expect("projects").len(), 2);
    let r = get_with_token(&emu, &token, "v3/auth/catalog").await;
    assert_eq!(r.status, 200);
    let cts = r.body["catalog"]
        .as_array()
        .expect("catalog")
        .iter()
        .find(|e| e["type"] == "cts")
        .expect("cts")
        .clone();
    assert_eq!(cts["endpoints"][0]["region"], "eu-nl");
    let r = get(&url(&emu, "v3/projects"), &[]).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_i64()),
        (401, Some(401))
    );
}
