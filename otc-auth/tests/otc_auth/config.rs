//! clouds.yaml search, cloud selection, file formats and parse errors.

use otc_auth::{load_cloud, Credentials, DomainRef, Error, UserRef};

use crate::common::Sandbox;

const MINIMAL: &str = "clouds:\n  NAME:\n    profile: otc\n    auth:\n      username: u\n      password: p\n      project_name: eu-de_x\n      user_domain_name: OTC1\n";

fn minimal(name: &str) -> String {
    MINIMAL.replace("NAME", name)
}

fn loaded_name(sb: &Sandbox) -> String {
    load_cloud(&sb.opts, None).expect("load").name
}

#[test]
fn search_order_cwd_then_home_then_system_and_yaml_before_yml_before_json() {
    let sb = Sandbox::new();
    sb.write("etc/clouds.yaml", &minimal("system"));
    assert_eq!(loaded_name(&sb), "system");
    sb.write("home/.config/openstack/clouds.json", "{\"clouds\":{\"home-json\":{\"profile\":\"otc\",\"auth\":{\"username\":\"u\",\"password\":\"p\",\"project_name\":\"eu-de\",\"user_domain_name\":\"D\"}}}}");
    assert_eq!(loaded_name(&sb), "home-json");
    sb.write("home/.config/openstack/clouds.yml", &minimal("home-yml"));
    assert_eq!(loaded_name(&sb), "home-yml");
    sb.write("home/.config/openstack/clouds.yaml", &minimal("home-yaml"));
    assert_eq!(loaded_name(&sb), "home-yaml");
    sb.write("cwd/clouds.yml", &minimal("cwd"));
    assert_eq!(loaded_name(&sb), "cwd");
}

#[test]
fn os_client_config_file_comes_first_and_must_exist() {
    let mut sb = Sandbox::new();
    sb.write("cwd/clouds.yaml", &minimal("cwd"));
    sb.write("cwd/sub/explicit.yaml", &minimal("explicit"));
    sb.env("OS_CLIENT_CONFIG_FILE", "sub/explicit.yaml"); // relative to cwd
    assert_eq!(loaded_name(&sb), "explicit");

    sb.env("OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml");
    let err = load_cloud(&sb.opts, None).expect_err("missing explicit file");
    assert!(
        matches!(
            err,
            Error::ConfigFileMissing {
                var: "OS_CLIENT_CONFIG_FILE",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("/nonexistent/clouds.yaml"),
        "{err}"
    );
}

#[test]
fn nothing_found_lists_every_path_searched() {
    let sb = Sandbox::new();
    let err = load_cloud(&sb.opts, None).expect_err("nothing there");
    let Error::NoConfig { searched } = &err else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(searched.len(), 9, "{searched:?}");
    let msg = err.to_string();
    for p in [
        sb.path("cwd/clouds.yaml"),
        sb.path("cwd/clouds.json"),
        sb.path("home/.config/openstack/clouds.yml"),
        sb.path("etc/clouds.json"),
    ] {
        assert!(
            msg.contains(&p.display().to_string()),
            "{msg} lacks {}",
            p.display()
        );
    }
    assert!(msg.contains("OS_CLIENT_CONFIG_FILE"), "{msg}");
}

#[test]
fn selection_by_os_cloud_argument_and_single_default() {
    let mut sb = Sandbox::new();
    sb.copy_fixture("clouds-two.yaml", "cwd/clouds.yaml");
    let err = load_cloud(&sb.opts, None).expect_err("two clouds, none selected");
    assert!(matches!(err, Error::AmbiguousCloud { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("otc-aksk") && msg.contains("otc-pw") && msg.contains("OS_CLOUD"),
        "{msg}"
    );

    sb.env("OS_CLOUD", "otc-aksk");
    assert_eq!(loaded_name(&sb), "otc-aksk");
    // The explicit argument beats OS_CLOUD.
    sb.env("OS_PASSWORD", "from-env");
    assert_eq!(
        load_cloud(&sb.opts, Some("otc-pw")).expect("explicit").name,
        "otc-pw"
    );

    sb.env("OS_CLOUD", "prod");
    let err = load_cloud(&sb.opts, None).expect_err("unknown");
    let msg = err.to_string();
    assert!(
        msg.contains("'prod'") && msg.contains("otc-aksk, otc-pw"),
        "{msg}"
    );
    assert!(
        msg.contains(&sb.path("cwd/clouds.yaml").display().to_string()),
        "{msg}"
    );
}

#[test]
fn environment_only_cloud_is_named_envvars() {
    let mut sb = Sandbox::new();
    sb.env("OS_AUTH_URL", "http://127.0.0.1:9999/v3/")
        .env("OS_ACCESS_KEY", "AKENV")
        .env("OS_SECRET_KEY", "SKENV")
        .env("OS_PROJECT_ID", "pid")
        .env("OS_REGION_NAME", "eu-de");
    let c = load_cloud(&sb.opts, None).expect("env cloud");
    assert_eq!(c.name, "envvars");
    assert_eq!(c.auth_url.as_str(), "http://127.0.0.1:9999/v3");
    assert_eq!(c.project_id.as_deref(), Some("pid"));
    assert!(matches!(c.credentials, Credentials::AkSk { .. }));
    assert_eq!(
        load_cloud(&sb.opts, Some("envvars")).expect("by name").name,
        "envvars"
    );

    sb.env("OS_CLOUD_NAME", "mine");
    assert_eq!(load_cloud(&sb.opts, None).expect("renamed").name, "mine");
    // A file cloud with the same name collides.
    sb.write("cwd/clouds.yaml", &minimal("mine"));
    let err = load_cloud(&sb.opts, None).expect_err("collision");
    assert!(matches!(err, Error::CloudNameCollision { .. }), "{err:?}");
}

#[test]
fn env_cloud_listed_when_requested_cloud_is_unknown() {
    let mut sb = Sandbox::new();
    sb.env("OS_USERNAME", "u").env("OS_CLOUD", "nope");
    let msg = load_cloud(&sb.opts, None).expect_err("unknown").to_string();
    assert!(msg.contains("'nope'") && msg.contains("envvars"), "{msg}");
}

#[test]
fn bad_yaml_reports_file_line_and_column() {
    let sb = Sandbox::new();
    let path = sb.copy_fixture("clouds-bad-quote.yaml", "cwd/clouds.yaml");
    let err = load_cloud(&sb.opts, None).expect_err("bad yaml");
    let Error::Parse {
        path: p,
        line,
        column,
        ..
    } = &err
    else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(p, &path);
    assert!(line.is_some() && column.is_some(), "{err:?}");
    assert!(err.to_string().contains(" line "), "{err}");
}

#[test]
fn json_clouds_file_and_explicit_ids() {
    let sb = Sandbox::new();
    sb.copy_fixture("clouds.json", "etc/clouds.json");
    let c = load_cloud(&sb.opts, None).expect("json");
    assert_eq!(c.name, "json-cloud");
    assert_eq!(c.region, "eu-nl");
    assert_eq!(
        c.auth_url.as_str(),
        "https://iam.eu-nl.otc.t-systems.com/v3",
        "default port dropped"
    );
    assert_eq!(c.domain_id.as_deref(), Some("d0m41n"));
    assert!(
        matches!(&c.credentials, Credentials::Password { user: UserRef::Name { domain: DomainRef::Id(d), .. }, .. } if d == "d0m41n")
    );
}

#[test]
fn the_repository_template_is_valid_once_filled_in() {
    let tpl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../clouds.tpl"))
        .expect("clouds.tpl at repo root");
    let filled = tpl
        .replace("<USER_NAME>", "alice")
        .replace("<PASSWORD>", "pw")
        .replace("<PROJECT_NAME>", "analytics")
        .replace("<ACCESS_KEY>", "AK")
        .replace("<SECRET_KEY>", "SK")
        .replace("OTC0000000000xxxxxxxxxx", "OTC00000000001000000001");
    let sb = Sandbox::new();
    sb.write("cwd/clouds.yaml", &filled);
    let names: Vec<String> = ["otc", "otc-aksk"]
        .iter()
        .map(|n| {
            load_cloud(&sb.opts, Some(n))
                .expect("template cloud loads")
                .name
        })
        .collect();
    assert_eq!(names, ["otc", "otc-aksk"]);
    let c = load_cloud(&sb.opts, Some("otc")).expect("otc");
    assert_eq!(c.region, "eu-de");
    assert!(matches!(c.credentials, Credentials::Password { .. }));
    let c = load_cloud(&sb.opts, Some("otc-aksk")).expect("aksk");
    assert!(matches!(c.credentials, Credentials::AkSk { .. }));
    // Unfilled, the template still parses (placeholders are quoted).
    sb.write("cwd/clouds.yaml", &tpl);
    assert!(load_cloud(&sb.opts, Some("otc")).is_ok());
}
