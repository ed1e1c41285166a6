//! The Keystone service catalog and endpoint lookup.
//!
//! Both the password flow (token body) and the AK/SK flow (`GET /v3/auth/catalog`) deliver the same
//! entry shape. Lookup follows gophertelekomcloud (`openstack/endpoint_location.go`, <https://github.com/opentelekomcloud/gophertelekomcloud>): match the service `type`, the
//! interface and the region (`region` or `region_id`), take the first match. As a fallback an endpoint
//! without a region or with region `*` matches any region.

use serde::Deserialize;
use url::Url;

use crate::Error;

/// A parsed service catalog.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Catalog {
    /// The catalog entries, in the order IAM sent them.
    pub entries: Vec<CatalogEntry>,
}

/// One service in the catalog.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEntry {
    /// Service type, e.g. `cts`, `ctsv2`, `identity`.
    #[serde(rename = "type")]
    pub service_type: String,
    /// Service name, e.g. `cts`, `keystone`.
    #[serde(default)]
    pub name: Option<String>,
    /// The service's endpoints.
    #[serde(default)]
    pub endpoints: Vec<CatalogEndpoint>,
}

/// One endpoint of a service.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEndpoint {
    /// `public`, `internal` or `admin`.
    #[serde(default)]
    pub interface: String,
    /// Region name.
    #[serde(default)]
    pub region: Option<String>,
    /// Region id (OTC sends both; older Keystone only one).
    #[serde(default)]
    pub region_id: Option<String>,
    /// The endpoint URL.
    pub url: String,
}

impl CatalogEndpoint {
    fn region_matches(&self, region: &str) -> bool {
        self.region.as_deref() == Some(region) || self.region_id.as_deref() == Some(region)
    }

    fn region_is_wildcard(&self) -> bool {
        let wild = |r: &Option<String>| r.as_deref().is_none_or(|r| r.is_empty() || r == "*");
        wild(&self.region) && wild(&self.region_id)
    }
}

impl Catalog {
    /// The endpoint URL of `service_type` for `interface` in `region`, normalised to end with `/`.
    /// `$(tenant_id)s` / `$(project_id)s` placeholders are replaced by `project_id` when given.
    ///
    /// # Errors
    /// [`Error::EndpointNotFound`] listing what the catalog does offer; [`Error::BadResponse`] if the
    /// catalog URL is not a valid URL.
    pub fn endpoint(
        &self,
        service_type: &str,
        interface: &str,
        region: &str,
        project_id: Option<&str>,
    ) -> Result<Url, Error> {
        let candidates = || {
            self.entries
                .iter()
                .filter(|e| e.service_type == service_type)
                .flat_map(|e| e.endpoints.iter())
                .filter(|ep| ep.interface.eq_ignore_ascii_case(interface))
        };
        let found = candidates()
            .find(|ep| ep.region_matches(region))
            .or_else(|| candidates().find(|ep| ep.region_is_wildcard()));
        let Some(ep) = found else {
            return Err(Error::EndpointNotFound {
                service_type: service_type.to_owned(),
                interface: interface.to_owned(),
                region: region.to_owned(),
                available: self.describe(),
            });
        };
        let mut text = ep.url.clone();
        if let Some(pid) = project_id {
            text = text
                .replace("$(tenant_id)s", pid)
                .replace("$(project_id)s", pid);
        }
        if !text.ends_with('/') {
            text.push('/');
        }
        Url::parse(&text).map_err(|e| Error::BadResponse {
            url: "service catalog".to_owned(),
            problem: format!(
                "the '{service_type}' endpoint URL '{}' is invalid: {e}",
                ep.url
            ),
        })
    }

    /// `type/interface/region` of every endpoint, for error messages.
    pub fn describe(&self) -> Vec<String> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.endpoints.iter().map(move |ep| {
                    let region = ep
                        .region
                        .as_deref()
                        .or(ep.region_id.as_deref())
                        .unwrap_or("*");
                    format!("{}/{}/{}", e.service_type, ep.interface, region)
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        serde_json::from_str(
            r#"[
              {"type":"identity","name":"keystone","endpoints":[{"interface":"public","region":"*","url":"https://iam.eu-de.otc.t-systems.com/v3"}]},
              {"type":"ctsv2","name":"ctsv2","endpoints":[{"interface":"public","region":"eu-de","url":"https://cts.eu-de.otc.t-systems.com/v2.0/$(tenant_id)s"}]},
              {"type":"cts","name":"cts","endpoints":[
                 {"region_id":"eu-nl","interface":"public","url":"https://cts.eu-nl.otc.t-systems.com/v1.0/p1"},
                 {"region_id":"eu-de","id":"x","region":"eu-de","interface":"internal","url":"https://internal/v1.0/p1"},
                 {"region_id":"eu-de","id":"y","region":"eu-de","interface":"public","url":"https://cts.eu-de.otc.t-systems.com/v1.0/p1"},
                 {"region":"eu-de","interface":"public","url":"https://second-match/v1.0/p1"}]}
            ]"#,
        )
        .expect("catalog json")
    }

    #[test]
    fn finds_by_type_interface_and_region_first_match() {
        let c = catalog();
        let u = c.endpoint("cts", "public", "eu-de", None).expect("found");
        assert_eq!(u.as_str(), "https://cts.eu-de.otc.t-systems.com/v1.0/p1/");
        let u = c
            .endpoint("cts", "public", "eu-nl", None)
            .expect("region_id only");
        assert_eq!(u.as_str(), "https://cts.eu-nl.otc.t-systems.com/v1.0/p1/");
        let u = c
            .endpoint("cts", "internal", "eu-de", None)
            .expect("internal");
        assert_eq!(u.host_str(), Some("internal"));
    }

    #[test]
    fn wildcard_region_and_placeholders() {
        let c = catalog();
        let u = c
            .endpoint("identity", "public", "eu-nl", None)
            .expect("wildcard");
        assert_eq!(u.as_str(), "https://iam.eu-de.otc.t-systems.com/v3/");
        let u = c
            .endpoint("ctsv2", "public", "eu-de", Some("abc"))
            .expect("ctsv2");
        assert_eq!(u.as_str(), "https://cts.eu-de.otc.t-systems.com/v2.0/abc/");
    }

    #[test]
    fn not_found_lists_what_exists() {
        let err = catalog()
            .endpoint("ctsv3", "public", "eu-de", None)
            .expect_err("absent");
        let msg = err.to_string();
        assert!(msg.contains("'ctsv3'"), "{msg}");
        assert!(msg.contains("cts/public/eu-de"), "{msg}");
        assert!(msg.contains("ctsv2/public/eu-de"), "{msg}");
        assert!(catalog().endpoint("cts", "public", "eu-ch2", None).is_err());
    }
}
