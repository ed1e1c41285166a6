//! Precedence (file, secure.yaml, environment, profile) and validation of a selected cloud.

use otc_auth::{load_cloud, Credentials, DomainRef, Error, UserRef};

use crate::common::{fixture_path, Sandbox};

const MINIMAL: &str = "clouds:\n  NAME:\n    profile: otc\n    auth:\n      username: u\n      password: p\n      project_name: eu-de_x\n      user_domain_name: OTC1\n";

fn minimal(name: &str) -> String {
    MINIMAL.replace("NAME", name)
}

#[test]
fn profile_otc_derives_region_and_auth_url_from_project_name() {
    // gophertelekomcloud TestDefaultVendor: profile otc + project eu-nl_test => iam.eu-nl.
    let sb = Sandbox::new();
    sb.write(
        "cwd/clouds.yaml",
        "clouds:\n  t:\n    profile: otc\n    auth:\n      username: u\n      password: p\n      project_name: eu-nl_test\n      domain_name: OTC9\n",
    );
    let c = load_cloud(&sb.opts, None).expect("load");
    assert_eq!(c.region, "eu-nl");
    assert_eq!(
        c.auth_url.as_str(),
        "https://iam.eu-nl.otc.t-systems.com/v3"
    );
    assert_eq!(c.interface, "public");
    assert_eq!(c.project_domain, Some(DomainRef::Name("OTC9".into())));
    match &c.credentials {
        Credentials::Password {
            user: UserRef::Name { name, domain },
            password,
        } => {
            assert_eq!(name, "u");
            assert_eq!(domain, &DomainRef::Name("OTC9".into()));
            assert_eq!(password.expose(), "p");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn deprecated_cloud_key_and_unknown_profile() {
    let sb = Sandbox::new();
    sb.write(
        "cwd/clouds.yaml",
        &minimal("a").replace("profile: otc", "cloud: otc"),
    );
    assert_eq!(
        load_cloud(&sb.opts, None)
            .expect("alias")
            .auth_url
            .host_str(),
        Some("iam.eu-de.otc.t-systems.com")
    );
    sb.write(
        "cwd/clouds.yaml",
        &minimal("a").replace("profile: otc", "profile: aws"),
    );
    let msg = load_cloud(&sb.opts, None)
        .expect_err("unknown profile")
        .to_string();
    assert!(
        msg.contains("profile = 'aws'") && msg.contains("otc, otc-swiss"),
        "{msg}"
    );
}

#[test]
fn region_precedence_file_then_env_then_project_prefix() {
    let mut sb = Sandbox::new();
    sb.write("cwd/clouds.yaml", &minimal("r"));
    assert_eq!(load_cloud(&sb.opts, None).expect("derived").region, "eu-de");
    sb.env("OS_REGION_NAME", "eu-nl");
    let c = load_cloud(&sb.opts, None).expect("env region");
    assert_eq!(c.region, "eu-nl");
    assert_eq!(
        c.auth_url.as_str(),
        "https://iam.eu-nl.otc.t-systems.com/v3",
        "template uses the final region"
    );
    sb.write(
        "cwd/clouds.yaml",
        &minimal("r").replace("    auth:", "    region_name: eu-ch2\n    auth:"),
    );
    assert_eq!(
        load_cloud(&sb.opts, None).expect("file region").region,
        "eu-ch2"
    );
}

#[test]
fn environment_fills_gaps_but_file_values_win() {
    let mut sb = Sandbox::new();
    sb.copy_fixture("clouds-two.yaml", "cwd/clouds.yaml");
    sb.env("OS_CLOUD", "otc-pw")
        .env("OS_PASSWORD", "env-password")
        .env("OS_USERNAME", "mallory")
        .env("OS_PROJECT_NAME", "eu-nl_other");
    let c = load_cloud(&sb.opts, None).expect("load");
    let Credentials::Password {
        user: UserRef::Name { name, .. },
        password,
    } = &c.credentials
    else {
        panic!("unexpected {:?}", c.credentials)
    };
    assert_eq!(name, "alice", "file value wins");
    assert_eq!(password.expose(), "env-password", "env fills the gap");
    assert_eq!(c.project_name.as_deref(), Some("eu-de_analytics"));
    assert!(c.origin.contains("environment"), "{}", c.origin);
}

#[test]
fn secure_yaml_is_merged_and_wins() {
    let mut sb = Sandbox::new();
    sb.copy_fixture("clouds-two.yaml", "home/.config/openstack/clouds.yaml");
    sb.copy_fixture("secure.yaml", "etc/secure.yaml");
    sb.env("OS_CLOUD", "otc-pw")
        .env("OS_PASSWORD", "env-password");
    let c = load_cloud(&sb.opts, None).expect("load");
    let Credentials::Password { password, .. } = &c.credentials else {
        panic!("{:?}", c.credentials)
    };
    assert_eq!(password.expose(), "alice-secure-password");
    assert!(c.origin.contains("secure.yaml"), "{}", c.origin);

    // secure.yaml beats clouds.yaml when both set a value; OS_CLIENT_SECURE_FILE is honoured.
    sb.write(
        "cwd/other-secure.yml",
        "clouds:\n  otc-aksk:\n    auth:\n      sk: 'SK-from-secure'\n",
    );
    sb.env("OS_CLIENT_SECURE_FILE", "other-secure.yml")
        .env("OS_CLOUD", "otc-aksk");
    let c = load_cloud(&sb.opts, None).expect("load");
    let Credentials::AkSk { secret_key, .. } = &c.credentials else {
        panic!("{:?}", c.credentials)
    };
    assert_eq!(secret_key.expose(), "SK-from-secure");
}

#[test]
fn aksk_wins_over_password_and_carries_security_token() {
    let mut sb = Sandbox::new();
    sb.copy_fixture("clouds-two.yaml", "cwd/clouds.yaml");
    sb.env("OS_CLOUD", "otc-aksk")
        .env("OS_SECURITY_TOKEN", "temp-token");
    let c = load_cloud(&sb.opts, None).expect("load");
    assert_eq!(c.region, "eu-nl");
    match &c.credentials {
        Credentials::AkSk {
            access_key,
            secret_key,
            security_token,
        } => {
            assert_eq!(access_key, "AKFILE0000000000");
            assert_eq!(
                secret_key.expose(),
                "SKFILE-secret-0000000000000000000000000"
            );
            assert_eq!(
                security_token.as_ref().map(|s| s.expose()),
                Some("temp-token")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // auth_type forces the password flow even with keys present.
    sb.env("OS_AUTH_TYPE", "password");
    sb.write(
        "cwd/clouds.yaml",
        &std::fs::read_to_string(fixture_path("clouds-two.yaml"))
            .expect("fixture")
            .replace(
                "  otc-aksk:\n    profile: otc",
                "  otc-aksk:\n    auth_type: password\n    profile: otc",
            ),
    );
    assert!(matches!(
        load_cloud(&sb.opts, None).expect("load").credentials,
        Credentials::Password { .. }
    ));
}

#[test]
fn missing_fields_name_the_field_the_file_and_the_variable() {
    let mut sb = Sandbox::new();
    let path = sb.copy_fixture("clouds-two.yaml", "cwd/clouds.yaml");
    sb.env("OS_CLOUD", "otc-pw");
    let err = load_cloud(&sb.opts, None).expect_err("no password");
    let msg = err.to_string();
    assert!(
        matches!(err, Error::MissingField { ref field, .. } if field == "auth.password"),
        "{err:?}"
    );
    assert!(
        msg.contains(&path.display().to_string())
            && msg.contains("OS_PASSWORD")
            && msg.contains("'otc-pw'"),
        "{msg}"
    );

    sb.write("cwd/clouds.yaml", "clouds:\n  c:\n    auth:\n      username: u\n      password: p\n      project_name: eu-de_x\n      user_domain_name: D\n");
    let msg = load_cloud(&sb.opts, Some("c"))
        .expect_err("no auth_url")
        .to_string();
    assert!(
        msg.contains("auth.auth_url")
            && msg.contains("OS_AUTH_URL")
            && msg.contains("profile: otc"),
        "{msg}"
    );

    sb.write(
        "cwd/clouds.yaml",
        &minimal("c").replace("      user_domain_name: OTC1\n", ""),
    );
    let msg = load_cloud(&sb.opts, Some("c"))
        .expect_err("no domain")
        .to_string();
    assert!(
        msg.contains("auth.user_domain_name") && msg.contains("OS_USER_DOMAIN_NAME"),
        "{msg}"
    );

    sb.write("cwd/clouds.yaml", "clouds:\n  c:\n    auth:\n      auth_url: https://iam.example/v3\n      token: t\n      project_id: p\n");
    let msg = load_cloud(&sb.opts, Some("c"))
        .expect_err("no region")
        .to_string();
    assert!(
        msg.contains("region_name") && msg.contains("OS_REGION_NAME"),
        "{msg}"
    );

    sb.write(
        "cwd/clouds.yaml",
        &minimal("c").replace("      password: p\n", "      ak: AK\n"),
    );
    let msg = load_cloud(&sb.opts, Some("c"))
        .expect_err("ak without sk")
        .to_string();
    assert!(
        msg.contains("auth.sk") && msg.contains("OS_SECRET_KEY"),
        "{msg}"
    );
}

#[test]
fn invalid_values_are_reported() {
    let sb = Sandbox::new();
    sb.write(
        "cwd/clouds.yaml",
        &minimal("c").replace("profile: otc", "profile: otc\n    interface: public-ish"),
    );
    let msg = load_cloud(&sb.opts, None)
        .expect_err("interface")
        .to_string();
    assert!(
        msg.contains("interface = 'public-ish'") && msg.contains("public, internal or admin"),
        "{msg}"
    );
    sb.write(
        "cwd/clouds.yaml",
        &minimal("c").replace("profile: otc", "profile: otc\n    identity_api_version: 2"),
    );
    let msg = load_cloud(&sb.opts, None).expect_err("v2").to_string();
    assert!(msg.contains("identity_api_version"), "{msg}");
    sb.write(
        "cwd/clouds.yaml",
        &minimal("c").replace("    auth:\n", "    auth:\n      target_agency_name: ag\n"),
    );
    let err = load_cloud(&sb.opts, None).expect_err("agency");
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    sb.write(
        "cwd/clouds.yaml",
        &minimal("c").replace("profile: otc", "interface: internalURL\n    profile: otc"),
    );
    assert_eq!(
        load_cloud(&sb.opts, None)
            .expect("endpoint_type style")
            .interface,
        "internal"
    );
}

#[test]
fn token_credential_from_environment() {
    let mut sb = Sandbox::new();
    sb.write(
        "cwd/clouds.yaml",
        "clouds:\n  t:\n    profile: otc\n    auth:\n      project_name: eu-de\n",
    );
    sb.env("OS_TOKEN", "gAAAA-token");
    let c = load_cloud(&sb.opts, None).expect("token");
    assert!(matches!(&c.credentials, Credentials::Token(t) if t.expose() == "gAAAA-token"));
    assert_eq!(c.region, "eu-de");
}

const AKSK: &str = "clouds:\n  k:\n    profile: otc\n    auth:\n      ak: AK1\n      sk: SK1\n      project_name: eu-de_x\n";

#[test]
fn aksk_signing_defaults_to_the_sdk_form_and_is_read_from_file_and_environment() {
    use otc_auth::SignatureForm;
    let mut sb = Sandbox::new();
    sb.write("cwd/clouds.yaml", AKSK);
    assert_eq!(
        load_cloud(&sb.opts, None).expect("load").aksk_signing,
        SignatureForm::Sdk
    );
    sb.env("OS_AKSK_SIGNING", "Guide");
    assert_eq!(
        load_cloud(&sb.opts, None).expect("env").aksk_signing,
        SignatureForm::Guide,
        "the environment fills the gap"
    );
    sb.write(
        "cwd/clouds.yaml",
        &AKSK.replace("    auth:", "    aksk_signing: sdk\n    auth:"),
    );
    assert_eq!(
        load_cloud(&sb.opts, None).expect("file").aksk_signing,
        SignatureForm::Sdk,
        "the file wins over the environment"
    );
    // secure.yaml fills it too.
    sb.opts.env.clear();
    sb.write("cwd/clouds.yaml", AKSK);
    sb.write(
        "cwd/secure.yaml",
        "clouds:\n  k:\n    aksk_signing: guide\n",
    );
    assert_eq!(
        load_cloud(&sb.opts, None).expect("secure").aksk_signing,
        SignatureForm::Guide
    );
}

#[test]
fn a_bad_aksk_signing_value_names_the_setting_and_the_fix() {
    let mut sb = Sandbox::new();
    sb.write("cwd/clouds.yaml", AKSK);
    sb.env("OS_AKSK_SIGNING", "");
    assert!(
        load_cloud(&sb.opts, None).is_ok(),
        "an empty variable counts as unset, as every OS_* variable"
    );
    for bad in [
        "Access",
        "sdk-hmac-sha256",
        "gü\u{200b}ide",
        "  ",
        &"x".repeat(100_000),
    ] {
        sb.env("OS_AKSK_SIGNING", bad);
        let err = load_cloud(&sb.opts, None).expect_err("refused");
        let msg = err.to_string();
        assert!(matches!(err, Error::InvalidField { .. }), "{err:?}");
        assert!(
            msg.contains("aksk_signing")
                && msg.contains("use sdk")
                && msg.contains("guide")
                && msg.contains("OS_AKSK_SIGNING"),
            "{msg}"
        );
    }
    sb.opts.env.clear();
    sb.write(
        "cwd/clouds.yaml",
        &AKSK.replace("    auth:", "    aksk_signing: ''\n    auth:"),
    );
    let msg = load_cloud(&sb.opts, None)
        .expect_err("empty in the file")
        .to_string();
    assert!(msg.contains("aksk_signing"), "{msg}");
}
