//! Turns a merged raw cloud into a checked [`CloudConfig`].
//!
//! This is where vendor profiles are applied, the region is derived, the IAM URL is normalised and
//! the credential kind is chosen. Every rejection names the field, the cloud, where it came from and
//! the environment variable that could supply it.

use url::Url;

use super::env::{vars_for, AKSK_SIGNING_VAR, REGION_VARS};
use super::raw::RawCloud;
use super::{CloudConfig, Credentials, DomainRef, UserRef};
use crate::sign::SignatureForm;
use crate::Error;

/// A vendor profile (`profile: otc`): defaults for the auth URL and the region.
struct Profile {
    auth_url_template: &'static str,
    default_region: Option<&'static str>,
}

const PROFILES: &[(&str, Profile)] = &[
    (
        "otc",
        Profile {
            auth_url_template: "https://iam.{region_name}.otc.t-systems.com/v3",
            default_region: None,
        },
    ),
    (
        "otc-swiss",
        Profile {
            auth_url_template: "https://iam-pub.eu-ch2.sc.otc.t-systems.com/v3",
            default_region: Some("eu-ch2"),
        },
    ),
];

struct Ctx<'a> {
    cloud: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    fn missing(&self, field: &str, hint: impl Into<String>) -> Error {
        Error::MissingField {
            cloud: self.cloud.to_owned(),
            origin: self.origin.to_owned(),
            field: field.to_owned(),
            hint: hint.into(),
        }
    }

    fn invalid(&self, field: &str, value: &str, problem: impl Into<String>) -> Error {
        Error::InvalidField {
            cloud: self.cloud.to_owned(),
            origin: self.origin.to_owned(),
            field: field.to_owned(),
            value: value.to_owned(),
            problem: problem.into(),
        }
    }

    /// "set auth.X in the file or OS_X" hint.
    fn missing_auth(&self, field: &str, example: &str) -> Error {
        let vars = vars_for(field).join(" or ");
        self.missing(
            &format!("auth.{field}"),
            format!("set auth.{field} (e.g. {example}) in clouds.yaml, or {vars}"),
        )
    }
}

/// Validates `raw` into a [`CloudConfig`].
pub(crate) fn resolve(name: String, raw: RawCloud, origin: String) -> Result<CloudConfig, Error> {
    let ctx = Ctx {
        cloud: &name,
        origin: &origin,
    };
    let a = &raw.auth;
    if let Some(agency) = a
        .target_agency_name
        .as_ref()
        .or(a.target_domain_id.as_ref())
        .or(a.target_project_name.as_ref())
    {
        return Err(Error::Unsupported {
            cloud: name.clone(),
            feature: format!("agency authentication (target agency '{agency}')"),
            hint: "authenticate as a user of the target account (password or AK/SK) instead".into(),
        });
    }

    let profile = match raw.profile.as_deref().or(raw.cloud.as_deref()) {
        None => None,
        Some(p) => Some(
            PROFILES
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(p))
                .map(|(_, prof)| prof)
                .ok_or_else(|| {
                    ctx.invalid(
                        "profile",
                        p,
                        "unknown vendor profile; known profiles: otc, otc-swiss",
                    )
                })?,
        ),
    };

    if let Some(v) = raw.identity_api_version.as_deref() {
        if !matches!(v.trim(), "3" | "3.0") {
            return Err(ctx.invalid(
                "identity_api_version",
                v,
                "only identity API v3 is supported; use 3",
            ));
        }
    }

    let region = raw
        .region_name
        .clone()
        .or_else(|| {
            a.project_name
                .as_deref()
                .and_then(|p| p.split('_').next())
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
        })
        .or_else(|| profile.and_then(|p| p.default_region).map(str::to_owned))
        .ok_or_else(|| {
            ctx.missing(
                "region_name",
                format!(
                    "set region_name (e.g. eu-de) in clouds.yaml or {}, or use a project_name such as eu-de_myproject",
                    REGION_VARS.join(" or ")
                ),
            )
        })?;
    if !region
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ctx.invalid(
            "region_name",
            &region,
            "a region is letters, digits and '-', e.g. eu-de",
        ));
    }

    let auth_url_text = match (&a.auth_url, profile) {
        (Some(u), _) => u.clone(),
        (None, Some(p)) => p.auth_url_template.replace("{region_name}", &region),
        (None, None) => {
            return Err(ctx.missing(
                "auth.auth_url",
                "set auth.auth_url (e.g. https://iam.eu-de.otc.t-systems.com/v3) or OS_AUTH_URL, or add `profile: otc`",
            ))
        }
    };
    let auth_url = normalise_auth_url(&auth_url_text)
        .map_err(|p| ctx.invalid("auth.auth_url", &auth_url_text, p))?;

    let interface_raw = raw
        .interface
        .clone()
        .or_else(|| raw.endpoint_type.clone())
        .unwrap_or_else(|| "public".to_owned());
    let interface = interface_raw
        .trim()
        .trim_end_matches("URL")
        .to_ascii_lowercase();
    if !matches!(interface.as_str(), "public" | "internal" | "admin") {
        return Err(ctx.invalid("interface", &interface_raw, "use public, internal or admin"));
    }

    if a.project_name.is_none() && a.project_id.is_none() {
        return Err(ctx.missing(
            "auth.project_name",
            "set auth.project_name (e.g. eu-de_myproject) or auth.project_id in clouds.yaml, or OS_PROJECT_NAME / OS_PROJECT_ID",
        ));
    }

    let user_domain = first_domain(&[
        (&a.user_domain_id, true),
        (&a.user_domain_name, false),
        (&a.domain_id, true),
        (&a.domain_name, false),
        (&a.default_domain, true),
    ]);
    let project_domain = first_domain(&[
        (&a.project_domain_id, true),
        (&a.project_domain_name, false),
        (&a.domain_id, true),
        (&a.domain_name, false),
        (&a.default_domain, true),
    ])
    .or_else(|| user_domain.clone());
    let domain_id = a
        .project_domain_id
        .clone()
        .or_else(|| a.user_domain_id.clone())
        .or_else(|| a.domain_id.clone())
        .or_else(|| a.default_domain.clone());

    let credentials = credentials(&ctx, &raw, user_domain)?;

    let aksk_signing = match raw.aksk_signing.as_deref() {
        None => SignatureForm::default(),
        Some(v) => SignatureForm::parse(v).ok_or_else(|| {
            ctx.invalid(
                "aksk_signing",
                v,
                format!(
                    "use sdk (the OTC SDK's Credential= form, the default) or guide (the signing guide's \
                     Access= form), in clouds.yaml or {AKSK_SIGNING_VAR}"
                ),
            )
        })?,
    };

    Ok(CloudConfig {
        auth_url,
        region,
        interface,
        project_name: a.project_name.clone(),
        project_id: a.project_id.clone(),
        project_domain,
        domain_id,
        credentials,
        verify_tls: raw.verify.unwrap_or(true),
        ca_cert: raw.cacert.clone(),
        aksk_signing,
        name,
        origin,
    })
}

fn first_domain(candidates: &[(&Option<String>, bool)]) -> Option<DomainRef> {
    candidates.iter().find_map(|(v, is_id)| {
        v.as_ref().map(|s| {
            if *is_id {
                DomainRef::Id(s.clone())
            } else {
                DomainRef::Name(s.clone())
            }
        })
    })
}

/// Chooses the credential kind: `auth_type` if given, else AK/SK > password > token.
fn credentials(
    ctx: &Ctx<'_>,
    raw: &RawCloud,
    user_domain: Option<DomainRef>,
) -> Result<Credentials, Error> {
    let a = &raw.auth;
    let kind = match raw.auth_type.as_deref().map(|t| t.trim().to_ascii_lowercase()) {
        Some(t) => match t.as_str() {
            "password" | "v3password" => "password",
            "token" | "v3token" => "token",
            "aksk" | "ak/sk" | "v3aksk" => "aksk",
            _ => {
                return Err(ctx.invalid(
                    "auth_type",
                    raw.auth_type.as_deref().unwrap_or_default(),
                    "use password, token or aksk (or leave it out to choose by the keys present)",
                ))
            }
        },
        None if a.ak.is_some() || a.sk.is_some() => "aksk",
        None if a.password.is_some() => "password",
        None if a.token.is_some() => "token",
        None if a.username.is_some() || a.user_id.is_some() => "password",
        None => {
            return Err(ctx.missing(
                "credentials",
                "set auth.username + auth.password + auth.user_domain_name, or auth.ak + auth.sk, in clouds.yaml \
                 (or OS_USERNAME/OS_PASSWORD/OS_USER_DOMAIN_NAME, or OS_ACCESS_KEY/OS_SECRET_KEY)",
            ))
        }
    };
    match kind {
        "aksk" => Ok(Credentials::AkSk {
            access_key: a
                .ak
                .clone()
                .ok_or_else(|| ctx.missing_auth("ak", "'<ACCESS_KEY>'"))?,
            secret_key: a
                .sk
                .clone()
                .ok_or_else(|| ctx.missing_auth("sk", "'<SECRET_KEY>'"))?,
            security_token: a.security_token.clone(),
        }),
        "token" => Ok(Credentials::Token(
            a.token
                .clone()
                .ok_or_else(|| ctx.missing_auth("token", "'<TOKEN>'"))?,
        )),
        _ => {
            let password = a
                .password
                .clone()
                .ok_or_else(|| ctx.missing_auth("password", "'<PASSWORD>'"))?;
            let user = match (&a.user_id, &a.username) {
                (Some(id), _) => UserRef::Id(id.clone()),
                (None, Some(name)) => UserRef::Name {
                    name: name.clone(),
                    domain: user_domain.ok_or_else(|| {
                        ctx.missing_auth("user_domain_name", "'OTC00000000001000000xxx'")
                    })?,
                },
                (None, None) => return Err(ctx.missing_auth("username", "'<USER_NAME>'")),
            };
            Ok(Credentials::Password { user, password })
        }
    }
}

/// Parses the IAM URL; an empty path becomes `/v3`, a trailing slash is removed.
fn normalise_auth_url(text: &str) -> Result<Url, String> {
    let mut url = Url::parse(text.trim()).map_err(|e| {
        format!("{e}; give an absolute URL such as https://iam.eu-de.otc.t-systems.com/v3")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme must be https (or http for a local emulator)".into());
    }
    if url.host_str().is_none() {
        return Err("the URL has no host".into());
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(if path.is_empty() { "/v3" } else { &path });
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_url_normalisation() {
        let u = normalise_auth_url("https://iam.eu-de.otc.t-systems.com:443/v3/").expect("valid");
        assert_eq!(u.as_str(), "https://iam.eu-de.otc.t-systems.com/v3");
        let u = normalise_auth_url("http://127.0.0.1:8080").expect("valid");
        assert_eq!(u.as_str(), "http://127.0.0.1:8080/v3");
        let e =
            normalise_auth_url("iam-pub.eu-ch2.sc.otc.t-systems.com/v3").expect_err("no scheme");
        assert!(e.contains("absolute URL"), "{e}");
        assert!(normalise_auth_url("ftp://x/v3").is_err());
    }
}
