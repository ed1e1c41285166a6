//! The `OS_*` environment variables, read into the same shape as a clouds.yaml entry.
//!
//! The variable names follow gophertelekomcloud (`openstack/auth_env.go`, `loader.go`; <https://github.com/opentelekomcloud/gophertelekomcloud>);
//! where it lists alternatives, the first one set wins. The `AWS_*` aliases gophertelekomcloud also
//! reads are deliberately *not* read: they belong to AWS, and a shell with AWS keys exported would
//! otherwise silently turn an OTC password cloud into a broken AK/SK cloud.

use super::options::LoadOptions;
use super::raw::{RawAuth, RawCloud};
use crate::Secret;

/// `(field, variables)` pairs of the auth block, documented in <https://github.com/cloudtrace-exporter/cloudtrace-exporter/blob/main/docs/authentication.md>.
pub(crate) const AUTH_VARS: &[(&str, &[&str])] = &[
    ("auth_url", &["OS_AUTH_URL"]),
    ("username", &["OS_USERNAME"]),
    ("user_id", &["OS_USERID", "OS_USER_ID"]),
    ("password", &["OS_PASSWORD"]),
    ("token", &["OS_TOKEN", "OS_TOKEN_ID"]),
    ("project_name", &["OS_PROJECT_NAME", "OS_TENANT_NAME"]),
    ("project_id", &["OS_PROJECT_ID", "OS_TENANT_ID"]),
    ("user_domain_name", &["OS_USER_DOMAIN_NAME"]),
    ("user_domain_id", &["OS_USER_DOMAIN_ID"]),
    ("project_domain_name", &["OS_PROJECT_DOMAIN_NAME"]),
    ("project_domain_id", &["OS_PROJECT_DOMAIN_ID"]),
    ("domain_name", &["OS_DOMAIN_NAME"]),
    ("domain_id", &["OS_DOMAIN_ID"]),
    ("default_domain", &["OS_DEFAULT_DOMAIN"]),
    ("ak", &["OS_ACCESS_KEY", "OS_ACCESS_KEY_ID", "OS_AK"]),
    ("sk", &["OS_SECRET_KEY", "OS_ACCESS_KEY_SECRET", "OS_SK"]),
    (
        "security_token",
        &["OS_SECURITY_TOKEN", "OS_AKSK_SECURITY_TOKEN", "OS_ST"],
    ),
    (
        "target_agency_name",
        &["OS_TARGET_AGENCY_NAME", "OS_AGENCY_NAME"],
    ),
];

/// The variable that chooses the AK/SK signature form (`sdk` or `guide`), like `aksk_signing:`.
pub(crate) const AKSK_SIGNING_VAR: &str = "OS_AKSK_SIGNING";

/// Region variables, first set wins.
pub(crate) const REGION_VARS: &[&str] = &["OS_REGION_NAME", "OS_REGION_ID"];

/// The environment variables that can supply `field` (for error hints), e.g. `OS_PASSWORD`.
pub(crate) fn vars_for(field: &str) -> &'static [&'static str] {
    AUTH_VARS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, v)| *v)
        .unwrap_or(&[])
}

fn first(opts: &LoadOptions, field: &str) -> Option<String> {
    vars_for(field)
        .iter()
        .find_map(|v| opts.var(v))
        .map(str::to_owned)
}

fn first_of(opts: &LoadOptions, vars: &[&str]) -> Option<String> {
    vars.iter().find_map(|v| opts.var(v)).map(str::to_owned)
}

/// The values the environment supplies, as a clouds.yaml-shaped layer (possibly all empty). It fills
/// the gaps of a file cloud.
pub(crate) fn env_layer(opts: &LoadOptions) -> RawCloud {
    let secret = |field: &str| first(opts, field).map(Secret::new);
    let auth = RawAuth {
        auth_url: first(opts, "auth_url"),
        username: first(opts, "username"),
        user_id: first(opts, "user_id"),
        password: secret("password"),
        token: secret("token"),
        project_name: first(opts, "project_name"),
        project_id: first(opts, "project_id"),
        project_domain_name: first(opts, "project_domain_name"),
        project_domain_id: first(opts, "project_domain_id"),
        user_domain_name: first(opts, "user_domain_name"),
        user_domain_id: first(opts, "user_domain_id"),
        domain_name: first(opts, "domain_name"),
        domain_id: first(opts, "domain_id"),
        default_domain: first(opts, "default_domain"),
        ak: first(opts, "ak"),
        sk: secret("sk"),
        security_token: secret("security_token"),
        target_agency_name: first(opts, "target_agency_name"),
        target_domain_id: None,
        target_project_name: None,
    };
    let insecure = first_of(opts, &["OS_INSECURE"])
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
    RawCloud {
        profile: first_of(opts, &["OS_PROFILE"]),
        cloud: None,
        auth,
        auth_type: first_of(opts, &["OS_AUTH_TYPE"]),
        region_name: first_of(opts, REGION_VARS),
        interface: first_of(opts, &["OS_INTERFACE", "OS_ENDPOINT_TYPE"]),
        endpoint_type: None,
        identity_api_version: first_of(opts, &["OS_IDENTITY_API_VERSION"]),
        verify: insecure.map(|i| !i),
        cacert: first_of(opts, &["OS_CACERT", "OS_CA_CERT", "OS_CA_CERT_FILE"]).map(Into::into),
        aksk_signing: first_of(opts, &[AKSK_SIGNING_VAR]),
    }
}

/// True if the layer describes a cloud of its own (the `envvars` cloud): it has an auth URL, a
/// profile, a credential or a project. Region, interface or TLS settings alone only fill gaps.
pub(crate) fn is_standalone(layer: &RawCloud) -> bool {
    let a = &layer.auth;
    layer.profile.is_some()
        || a.auth_url.is_some()
        || a.username.is_some()
        || a.user_id.is_some()
        || a.password.is_some()
        || a.token.is_some()
        || a.ak.is_some()
        || a.sk.is_some()
        || a.project_name.is_some()
        || a.project_id.is_some()
}

/// True if the layer holds any value at all.
pub(crate) fn is_used(layer: &RawCloud) -> bool {
    let a = &layer.auth;
    is_standalone(layer)
        || layer.region_name.is_some()
        || layer.interface.is_some()
        || layer.auth_type.is_some()
        || layer.identity_api_version.is_some()
        || layer.verify.is_some()
        || layer.cacert.is_some()
        || a.security_token.is_some()
        || a.project_domain_name.is_some()
        || a.project_domain_id.is_some()
        || a.user_domain_name.is_some()
        || a.user_domain_id.is_some()
        || a.domain_name.is_some()
        || a.domain_id.is_some()
        || a.default_domain.is_some()
        || a.target_agency_name.is_some()
}

/// The cloud the environment alone describes, if it describes one.
pub(crate) fn cloud_from_env(opts: &LoadOptions) -> Option<RawCloud> {
    Some(env_layer(opts)).filter(is_standalone)
}

/// The name of the environment-only cloud: `OS_CLOUD_NAME`, default `envvars`.
pub(crate) fn env_cloud_name(opts: &LoadOptions) -> String {
    opts.var("OS_CLOUD_NAME").unwrap_or("envvars").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> LoadOptions {
        let mut o = LoadOptions::new("/nonexistent", "/nonexistent");
        for (k, v) in pairs {
            o.env.insert((*k).into(), (*v).into());
        }
        o
    }

    #[test]
    fn region_alone_is_not_a_cloud_but_fills_gaps() {
        let o = opts(&[("OS_REGION_NAME", "eu-de")]);
        assert!(cloud_from_env(&o).is_none());
        assert_eq!(env_layer(&o).region_name.as_deref(), Some("eu-de"));
    }

    #[test]
    fn first_listed_variable_wins() {
        let c = cloud_from_env(&opts(&[
            ("OS_ACCESS_KEY_ID", "second"),
            ("OS_ACCESS_KEY", "first"),
            ("OS_SK", "sk"),
            ("OS_TENANT_NAME", "eu-de_x"),
            ("OS_INSECURE", "true"),
        ]))
        .expect("cloud");
        assert_eq!(c.auth.ak.as_deref(), Some("first"));
        assert_eq!(c.auth.sk.as_ref().map(Secret::expose), Some("sk"));
        assert_eq!(c.auth.project_name.as_deref(), Some("eu-de_x"));
        assert_eq!(c.verify, Some(false));
    }

    #[test]
    fn aws_variables_are_ignored() {
        assert!(cloud_from_env(&opts(&[("AWS_ACCESS_KEY_ID", "AKIA")])).is_none());
    }
}
