//! AK/SK signed requests, both variants, and their failure modes.

use cts_emulator::EmulatorConfig;

use crate::common::*;

async fn emulator() -> cts_emulator::Emulator {
    let cfg = EmulatorConfig {
        projects: vec!["eu-de_a".into(), "eu-de_b".into()],
        history_count: 20,
        history_span: std::time::Duration::from_secs(1800),
        ..EmulatorConfig::default()
    };
    start(cfg).await
}

#[tokio::test]
async fn variants_a_and_b_are_accepted_on_cts_and_iam() {
    let emu = emulator().await;
    let c = emu.credentials().clone();
    let pid = emu.projects()[0].id.clone();
    for variant in [Variant::A, Variant::B] {
        let u = url(&emu, &format!("v3/{pid}/traces?limit=3&trace_type=system"));
        let hs = signed_headers(
            &u,
            &[("X-Project-Id", &pid)],
            &c.ak,
            c.sk.expose(),
            &sdk_date(0),
            variant,
        );
        let r = get(
            &u,
            &hs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(r.status, 200, "{variant:?}: {}", r.body);
        assert_eq!(r.body["meta_data"]["count"], 3);
        // Without X-Project-Id (it is optional) the path names the project.
        let u = url(&emu, &format!("v1.0/{pid}/system/trace?limit=2"));
        let hs = signed_headers(&u, &[], &c.ak, c.sk.expose(), &sdk_date(-60), variant);
        let r = get(
            &u,
            &hs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(r.status, 200, "{variant:?}: {}", r.body);
        // The AK/SK discovery path of §3.4: project by name, then the catalog.
        let u = url(&emu, "v3/projects?name=eu-de_b");
        let hs = signed_headers(&u, &[], &c.ak, c.sk.expose(), &sdk_date(0), variant);
        let r = get(
            &u,
            &hs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let b_id = r.body["projects"][0]["id"].as_str().expect("id").to_owned();
        assert_eq!(b_id, emu.projects()[1].id);
        let u = url(&emu, "v3/auth/catalog");
        let mut hs = signed_headers(&u, &[], &c.ak, c.sk.expose(), &sdk_date(0), variant);
        hs.push(("X-Project-Id", b_id.clone())); // added after signing, as gophertelekomcloud does
        let r = get(
            &u,
            &hs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let cts = r.body["catalog"]
            .as_array()
            .expect("catalog")
            .iter()
            .find(|e| e["type"] == "cts")
            .expect("cts")
            .clone();
        assert!(cts["endpoints"][0]["url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/v1.0/{b_id}")));
    }
}

#[tokio::test]
async fn bad_signature_unknown_ak_and_skew_are_refused() {
    let emu = emulator().await;
    let c = emu.credentials().clone();
    let pid = emu.projects()[0].id.clone();
    let u = url(&emu, &format!("v3/{pid}/traces?limit=3"));
    let send = |hs: Vec<(&'static str, String)>| {
        let u = u.clone();
        async move {
            get(
                &u,
                &hs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
            )
            .await
        }
    };
    // Wrong secret.
    let r = send(signed_headers(
        &u,
        &[],
        &c.ak,
        "not-the-secret",
        &sdk_date(0),
        Variant::A,
    ))
    .await;
    assert_eq!(
        (r.status, r.body["error_code"].as_str()),
        (401, Some("APIG.0301"))
    );
    assert!(r.body["error_msg"]
        .as_str()
        .expect("msg")
        .contains("verify aksk signature fail"));
    assert!(!r.body.to_string().contains(c.sk.expose()));
    // Signed for another query than sent.
    let other = url(&emu, &format!("v3/{pid}/traces?limit=4"));
    let r = send(signed_headers(
        &other,
        &[],
        &c.ak,
        c.sk.expose(),
        &sdk_date(0),
        Variant::B,
    ))
    .await;
    assert_eq!(r.status, 401);
    // Unknown AK.
    let r = send(signed_headers(
        &u,
        &[],
        "NOSUCHAK",
        c.sk.expose(),
        &sdk_date(0),
        Variant::A,
    ))
    .await;
    assert_eq!(r.status, 401);
    assert!(r.body["error_msg"]
        .as_str()
        .expect("msg")
        .contains("ak not exist"));
    // 20 minutes late or early: signature expired.
    for offset in [-1200, 1200] {
        let r = send(signed_headers(
            &u,
            &[],
            &c.ak,
            c.sk.expose(),
            &sdk_date(offset),
            Variant::A,
        ))
        .await;
        assert_eq!(
            (r.status, r.body["error_code"].as_str()),
            (401, Some("APIG.0303")),
            "{}",
            r.body
        );
        assert!(r.body["error_msg"]
            .as_str()
            .expect("msg")
            .contains("signature expired"));
    }
    // 10 minutes is within the window.
    let r = send(signed_headers(
        &u,
        &[],
        &c.ak,
        c.sk.expose(),
        &sdk_date(-600),
        Variant::A,
    ))
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn x_project_id_must_match_the_path() {
    let emu = emulator().await;
    let c = emu.credentials().clone();
    let (a, b) = (emu.projects()[0].id.clone(), emu.projects()[1].id.clone());
    let u = url(&emu, &format!("v3/{a}/traces"));
    let hs = signed_headers(
        &u,
        &[("X-Project-Id", &b)],
        &c.ak,
        c.sk.expose(),
        &sdk_date(0),
        Variant::A,
    );
    let r = get(
        &u,
        &hs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error_code"].as_str()),
        (403, Some("CTS.0002"))
    );
    // AK/SK on the catalog without X-Project-Id: a clear 400.
    let u = url(&emu, "v3/auth/catalog");
    let hs = signed_headers(&u, &[], &c.ak, c.sk.expose(), &sdk_date(0), Variant::A);
    let r = get(
        &u,
        &hs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["message"]
        .as_str()
        .expect("msg")
        .contains("X-Project-Id"));
}
