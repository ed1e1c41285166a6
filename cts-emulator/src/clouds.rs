//! A clouds.yaml (cts-api.md §5.3) pointing clients at a running emulator:
//! one cloud per project, with password or AK/SK credentials.

use crate::config::Credentials;
use crate::ids::{DomainInfo, ProjectInfo};

/// Which credentials a generated clouds.yaml carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `username`/`password`/`user_domain_name`: the token flow of §3.1.
    Password,
    /// `ak`/`sk`: the signed-request flow of §3.4.
    AkSk,
}

/// Single-quoted YAML scalar.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The YAML text. Cloud names are the project names.
pub(crate) fn clouds_yaml(
    iam_url: &str,
    domain: &DomainInfo,
    projects: &[ProjectInfo],
    creds: &Credentials,
    auth: AuthKind,
) -> String {
    let mut out = format!("# clouds.yaml for the cts-emulator, IAM at {iam_url}\nclouds:\n");
    for p in projects {
        out.push_str(&format!(
            "  {}:\n    auth:\n      auth_url: {}\n",
            q(&p.name),
            q(iam_url)
        ));
        match auth {
            AuthKind::Password => {
                out.push_str(&format!("      username: {}\n", q(&creds.username)));
                out.push_str(&format!("      password: {}\n", q(creds.password.expose())));
                out.push_str(&format!("      user_domain_name: {}\n", q(&domain.name)));
            }
            AuthKind::AkSk => {
                out.push_str(&format!("      ak: {}\n", q(&creds.ak)));
                out.push_str(&format!("      sk: {}\n", q(creds.sk.expose())));
            }
        }
        out.push_str(&format!("      project_name: {}\n", q(&p.name)));
        out.push_str(&format!(
            "    region_name: {}\n    interface: 'public'\n    identity_api_version: 3\n",
            q(&p.region)
        ));
    }
    out
}
