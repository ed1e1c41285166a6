//! Where CTS lives and how request URLs are built from it.
//!
//! The IAM catalog hands out CTS as `https://cts.<region>.../v1.0/<project_id>`
//! (OTC IAM, "Querying the Service Catalog"). The v2.0 and v3 APIs live under the same host with the
//! version path segment swapped (gophertelekomcloud's `NewCTSV2`/`NewCTSV3`, <https://github.com/opentelekomcloud/gophertelekomcloud>). gophertelekomcloud does that swap as
//! a string replace on the whole URL, which also hits a `v1` in the host;
//! this module swaps the path segment only, so the host is never touched.

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::Error;

/// Which CTS trace-list API to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ApiVersion {
    /// `GET /v1.0/{project_id}/{tracker_name}/trace` (out of date).
    V1,
    /// `GET /v2.0/{project_id}/{tracker_name}/trace` (out of date; used by the Go exporter).
    V2,
    /// `GET /v3/{project_id}/traces` (recommended, the default).
    #[default]
    V3,
}

impl ApiVersion {
    /// The path segment of this version: `v1.0`, `v2.0` or `v3`.
    pub fn path_segment(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1.0",
            ApiVersion::V2 => "v2.0",
            ApiVersion::V3 => "v3",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
            ApiVersion::V3 => "v3",
        })
    }
}

impl FromStr for ApiVersion {
    type Err = Error;

    /// Accepts `v1`, `v1.0`, `1`, `v2`, `v2.0`, `2`, `v3`, `3` (any case).
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v1" | "v1.0" | "1" | "1.0" => Ok(ApiVersion::V1),
            "v2" | "v2.0" | "2" | "2.0" => Ok(ApiVersion::V2),
            "v3" | "v3.0" | "3" | "3.0" => Ok(ApiVersion::V3),
            other => Err(Error::InvalidConfig {
                setting: "api_version",
                problem: format!("must be v1, v2 or v3 (e.g. `v3`), got {other:?}"),
            }),
        }
    }
}

/// The CTS endpoint of one project: scheme, host, optional path prefix and
/// project id, from which every request URL is derived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme, host, port and any path prefix in front of the version segment.
    base: Url,
    project_id: String,
    source: Url,
}

impl Endpoint {
    /// Parses a catalog URL of the form `<scheme>://<host>[/prefix]/<version>/<project_id>[/]`,
    /// e.g. `https://cts.eu-de.otc.t-systems.com/v1.0/0391e4486e864c26be5654c522f440f2`.
    ///
    /// The version segment (`v1.0`, `v2.0`, `v3`, ...) is replaced per request by
    /// the version the client uses; the host and any prefix are kept as they are.
    pub fn from_catalog_url(url: &str) -> Result<Endpoint, Error> {
        let bad = |problem: String| Error::InvalidEndpoint {
            url: url.to_owned(),
            problem,
        };
        let example =
            "e.g. https://cts.eu-de.otc.t-systems.com/v1.0/0391e4486e864c26be5654c522f440f2";
        let parsed =
            Url::parse(url.trim()).map_err(|e| bad(format!("not a URL ({e}); {example}")))?;
        check_scheme(&parsed).map_err(bad)?;
        let segments: Vec<&str> = parsed
            .path_segments()
            .map(|s| s.filter(|seg| !seg.is_empty()).collect())
            .unwrap_or_default();
        let n = segments.len();
        if n < 2 || !is_version_segment(segments[n - 2]) {
            return Err(bad(format!(
                "the path must end in /<version>/<project_id>, {example}"
            )));
        }
        let project_id = decode_segment(segments[n - 1]);
        check_project_id(&project_id).map_err(bad)?;
        let mut base = parsed.clone();
        base.set_query(None);
        base.set_fragment(None);
        let prefix: Vec<&str> = segments[..n - 2].to_vec();
        base.set_path(&prefix.join("/"));
        Ok(Endpoint {
            base,
            project_id,
            source: parsed,
        })
    }

    /// Builds an endpoint from a base URL without version (e.g.
    /// `https://cts.eu-de.otc.t-systems.com` or `http://127.0.0.1:18443`)
    /// and a project id.
    pub fn new(base: &str, project_id: &str) -> Result<Endpoint, Error> {
        let bad = |problem: String| Error::InvalidEndpoint {
            url: base.to_owned(),
            problem,
        };
        let mut parsed = Url::parse(base.trim()).map_err(|e| {
            bad(format!(
                "not a URL ({e}); e.g. https://cts.eu-de.otc.t-systems.com"
            ))
        })?;
        check_scheme(&parsed).map_err(bad)?;
        check_project_id(project_id).map_err(bad)?;
        parsed.set_query(None);
        parsed.set_fragment(None);
        let trimmed = parsed.path().trim_end_matches('/').to_owned();
        parsed.set_path(&trimmed);
        let mut source = parsed.clone();
        push_segments(&mut source, &[ApiVersion::V1.path_segment(), project_id]);
        Ok(Endpoint {
            base: parsed,
            project_id: project_id.to_owned(),
            source,
        })
    }

    /// The project id requests are made for.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The URL this endpoint was built from (the catalog URL), e.g. for a
    /// CloudEvent `source`.
    pub fn catalog_url(&self) -> &Url {
        &self.source
    }

    /// `…/{version}/{project_id}`: the versioned project root.
    pub fn project_url(&self, version: ApiVersion) -> Url {
        let mut url = self.base.clone();
        push_segments(&mut url, &[version.path_segment(), &self.project_id]);
        url
    }

    /// The trace-list URL without query: `…/v3/{pid}/traces` or
    /// `…/{v1.0|v2.0}/{pid}/{tracker}/trace`.
    pub fn traces_url(&self, version: ApiVersion, tracker: &str) -> Url {
        let mut url = self.project_url(version);
        match version {
            ApiVersion::V3 => push_segments(&mut url, &["traces"]),
            ApiVersion::V1 | ApiVersion::V2 => push_segments(&mut url, &[tracker, "trace"]),
        }
        url
    }

    /// The v3 tracker-list URL `…/v3/{pid}/trackers`.
    pub fn trackers_url(&self) -> Url {
        let mut url = self.project_url(ApiVersion::V3);
        push_segments(&mut url, &["trackers"]);
        url
    }

    /// The v1 tracker URL `…/v1.0/{pid}/tracker`.
    pub fn tracker_url(&self) -> Url {
        let mut url = self.project_url(ApiVersion::V1);
        push_segments(&mut url, &["tracker"]);
        url
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source.as_str())
    }
}

fn push_segments(url: &mut Url, segments: &[&str]) {
    // http(s) URLs always have a path, so `path_segments_mut` cannot fail here;
    // the fallback keeps the URL unchanged rather than panicking.
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
}

fn check_scheme(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" | "http" if url.host_str().is_some() => Ok(()),
        "https" | "http" => Err("the URL has no host".to_owned()),
        other => Err(format!(
            "the scheme must be https (or http for a local emulator), got {other:?}"
        )),
    }
}

fn check_project_id(pid: &str) -> Result<(), String> {
    if pid.trim().is_empty() {
        return Err("the project id is empty".to_owned());
    }
    if pid.contains("$(") || pid.contains('{') {
        return Err(format!(
            "the project id {pid:?} is a template placeholder; use the catalog URL of a project-scoped token"
        ));
    }
    if pid.contains('/') {
        return Err(format!("the project id {pid:?} contains '/'"));
    }
    Ok(())
}

fn is_version_segment(seg: &str) -> bool {
    let Some(rest) = seg.strip_prefix('v').or_else(|| seg.strip_prefix('V')) else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major = parts.next().unwrap_or("");
    let minor_ok = parts
        .next()
        .is_none_or(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()) && minor_ok
}

fn decode_segment(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PID: &str = "0391e4486e864c26be5654c522f440f2";

    #[test]
    fn catalog_url_versions_replace_only_the_path_segment() {
        let ep = Endpoint::from_catalog_url(&format!("https://cts.v1.example.com/v1.0/{PID}"))
            .expect("valid");
        assert_eq!(ep.project_id(), PID);
        assert_eq!(
            ep.traces_url(ApiVersion::V1, "system").as_str(),
            format!("https://cts.v1.example.com/v1.0/{PID}/system/trace")
        );
        assert_eq!(
            ep.traces_url(ApiVersion::V2, "system").as_str(),
            format!("https://cts.v1.example.com/v2.0/{PID}/system/trace")
        );
        assert_eq!(
            ep.traces_url(ApiVersion::V3, "ignored").as_str(),
            format!("https://cts.v1.example.com/v3/{PID}/traces")
        );
        assert_eq!(
            ep.trackers_url().as_str(),
            format!("https://cts.v1.example.com/v3/{PID}/trackers")
        );
        assert_eq!(
            ep.tracker_url().as_str(),
            format!("https://cts.v1.example.com/v1.0/{PID}/tracker")
        );
    }

    #[test]
    fn prefix_port_and_trailing_slash_are_kept() {
        let ep = Endpoint::from_catalog_url(&format!("http://127.0.0.1:18443/gw/cts/v2.0/{PID}/"))
            .expect("valid");
        assert_eq!(
            ep.traces_url(ApiVersion::V3, "system").as_str(),
            format!("http://127.0.0.1:18443/gw/cts/v3/{PID}/traces")
        );
        assert_eq!(
            ep.catalog_url().as_str(),
            format!("http://127.0.0.1:18443/gw/cts/v2.0/{PID}/")
        );
    }

    #[test]
    fn tracker_name_is_percent_encoded_as_one_segment() {
        let ep = Endpoint::new("http://localhost:1/", PID).expect("valid");
        assert_eq!(
            ep.traces_url(ApiVersion::V2, "a/b c").as_str(),
            format!("http://localhost:1/v2.0/{PID}/a%2Fb%20c/trace")
        );
        assert_eq!(
            ep.catalog_url().as_str(),
            format!("http://localhost:1/v1.0/{PID}")
        );
    }

    #[test]
    fn bad_catalog_urls_are_explained() {
        for (url, needle) in [
            ("cts.eu-de.otc.t-systems.com/v1.0/x", "not a URL"),
            ("ftp://cts.example.com/v1.0/x", "scheme"),
            ("https://cts.example.com/", "/<version>/<project_id>"),
            (
                "https://cts.example.com/traces/x",
                "/<version>/<project_id>",
            ),
            ("https://cts.example.com/v1.0/$(tenant_id)s", "placeholder"),
        ] {
            let e = Endpoint::from_catalog_url(url).expect_err(url);
            assert!(e.to_string().contains(needle), "{url}: {e}");
        }
        assert!(Endpoint::new("https://cts.example.com", " ").is_err());
    }

    #[test]
    fn versions_parse_and_print() {
        assert_eq!("V2.0".parse::<ApiVersion>().expect("valid"), ApiVersion::V2);
        assert_eq!("3".parse::<ApiVersion>().expect("valid"), ApiVersion::V3);
        assert_eq!(ApiVersion::default(), ApiVersion::V3);
        assert_eq!(ApiVersion::V1.to_string(), "v1");
        let e = "v4".parse::<ApiVersion>().expect_err("invalid");
        assert!(e.to_string().contains("v1, v2 or v3"), "{e}");
        assert!(
            is_version_segment("v1.0")
                && is_version_segment("v3")
                && !is_version_segment("v")
                && !is_version_segment("v1.")
        );
    }
}
