//! The CTS client: configuration, single requests, tracker calls.
//!
//! [`CtsClient`] ties an [`Endpoint`], an authorizer, a retry policy and an
//! API version together. It is cheap to clone (one `Arc`) so streams can own
//! a copy. Pagination lives in [`crate::paginate`].

use std::sync::Arc;
use std::time::Duration;

use otc_auth::RequestAuthorizer;
use tracing::Instrument;
use url::Url;

use crate::clock::{Clock, RandomSource, SeededRandom, TokioClock};
use crate::params::encode_params;
use crate::tracker::TrackerList;
use crate::transport::{Success, Transport};
use crate::{
    decode, retry, ApiVersion, Endpoint, Error, RetryConfig, TracePage, TraceQuery, Tracker,
    V2StatusParam,
};

/// Default per-request timeout (connect + headers + body).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default TCP/TLS connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for one project's CTS endpoint.
///
/// Cloning is cheap and shares the connection pool.
#[derive(Debug, Clone)]
pub struct CtsClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoint: Endpoint,
    transport: Transport,
    version: ApiVersion,
    v2_status: V2StatusParam,
    retry: RetryConfig,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
}

/// Settings for a [`CtsClient`]; start with [`CtsClient::builder`].
#[derive(Debug)]
#[must_use = "call .build() to get a client"]
pub struct CtsClientBuilder {
    endpoint: Endpoint,
    auth: Arc<dyn RequestAuthorizer>,
    version: ApiVersion,
    v2_status: V2StatusParam,
    retry: RetryConfig,
    request_timeout: Duration,
    connect_timeout: Duration,
    clock: Arc<dyn Clock>,
    random: Option<Arc<dyn RandomSource>>,
    user_agent: String,
}

impl CtsClientBuilder {
    /// The trace-list API version (default [`ApiVersion::V3`]).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.version = version;
        self
    }

    /// The name of the v2 status filter; see [`V2StatusParam`] for the conflict.
    pub fn v2_status_param(mut self, param: V2StatusParam) -> Self {
        self.v2_status = param;
        self
    }

    /// Retry policy (default [`RetryConfig::default`]).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Per-request timeout covering connect, headers and body (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Connect timeout (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The clock used for back-off sleeps and `Retry-After` dates (tests inject a fake).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The random source used for jitter (default: [`SeededRandom::from_time`]).
    pub fn random_source(mut self, random: Arc<dyn RandomSource>) -> Self {
        self.random = Some(random);
        self
    }

    /// The `User-Agent` header (default `cts-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<CtsClient, Error> {
        self.retry.validate()?;
        for (setting, value) in [
            ("request_timeout", self.request_timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if value.is_zero() {
                return Err(Error::InvalidConfig {
                    setting,
                    problem: "must be greater than zero (e.g. 30s)".to_owned(),
                });
            }
        }
        let transport = Transport::new(
            self.auth,
            self.clock.clone(),
            self.request_timeout,
            self.connect_timeout,
            &self.user_agent,
        )?;
        Ok(CtsClient {
            inner: Arc::new(Inner {
                endpoint: self.endpoint,
                transport,
                version: self.version,
                v2_status: self.v2_status,
                retry: self.retry,
                clock: self.clock,
                random: self
                    .random
                    .unwrap_or_else(|| Arc::new(SeededRandom::from_time())),
            }),
        })
    }
}

impl CtsClient {
    /// Starts configuring a client for `endpoint`, authorizing every request
    /// with `authorizer` (a token, AK/SK signing, or a full
    /// [`otc_auth::AuthProvider`]).
    pub fn builder(endpoint: Endpoint, authorizer: Arc<dyn RequestAuthorizer>) -> CtsClientBuilder {
        CtsClientBuilder {
            endpoint,
            auth: authorizer,
            version: ApiVersion::default(),
            v2_status: V2StatusParam::default(),
            retry: RetryConfig::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            clock: Arc::new(TokioClock),
            random: None,
            user_agent: concat!("cts-client/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// The one-call setup: authenticates with `cloud` (a password token or
    /// AK/SK, per its credentials), finds CTS in the service catalog and
    /// returns a client with the default settings (v3 API, retries, timeouts).
    ///
    /// Use [`CtsClient::builder_from_provider`] to change a setting, or to
    /// share one [`otc_auth::AuthProvider`] with other clients.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cts_client::Error> {
    /// use otc_auth::{load_cloud, LoadOptions};
    ///
    /// // OS_CLOUD (or the only cloud in clouds.yaml) selects the cloud.
    /// let cloud = load_cloud(&LoadOptions::from_process(), None)?;
    /// let client = cts_client::CtsClient::from_cloud(cloud).await?;
    /// println!("{}", client.endpoint());
    /// # Ok(()) }
    /// ```
    pub async fn from_cloud(cloud: otc_auth::CloudConfig) -> Result<CtsClient, Error> {
        let provider = Arc::new(otc_auth::AuthProvider::new(cloud)?);
        CtsClient::builder_from_provider(provider).await?.build()
    }

    /// Resolves the CTS endpoint from the provider's service catalog (type
    /// `cts`) and starts a builder that authorizes through the provider.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), cts_client::Error> {
    /// use std::sync::Arc;
    /// use otc_auth::{load_cloud, AuthProvider, LoadOptions};
    /// use cts_client::{ApiVersion, CtsClient};
    ///
    /// let cloud = load_cloud(&LoadOptions::from_process(), None)?;
    /// let provider = Arc::new(AuthProvider::new(cloud)?);
    /// let client = CtsClient::builder_from_provider(provider)
    ///     .await?
    ///     .api_version(ApiVersion::V2)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub async fn builder_from_provider(
        provider: Arc<otc_auth::AuthProvider>,
    ) -> Result<CtsClientBuilder, Error> {
        let url = provider.endpoint("cts").await.map_err(Error::Auth)?;
        let endpoint = Endpoint::from_catalog_url(url.as_str())?;
        Ok(CtsClient::builder(endpoint, provider))
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The trace-list API version in use.
    pub fn api_version(&self) -> ApiVersion {
        self.inner.version
    }

    /// The full URL (with query) of one trace-list request, after validating
    /// the query. `next` overrides `query.next`.
    pub fn traces_request_url(&self, query: &TraceQuery, next: Option<&str>) -> Result<Url, Error> {
        let inner = &self.inner;
        let params = query.to_params(inner.version, inner.v2_status, next)?;
        let mut url = inner
            .endpoint
            .traces_url(inner.version, query.path_tracker());
        url.set_query(
            Some(&encode_params(&params))
                .filter(|q| !q.is_empty())
                .map(String::as_str),
        );
        Ok(url)
    }

    /// Fetches one page of traces (starting at `query.next` if set).
    pub async fn list_traces(&self, query: &TraceQuery) -> Result<TracePage, Error> {
        self.fetch_page(query, None).await
    }

    /// One page with an explicit `next`; used by the paginator.
    pub(crate) async fn fetch_page(
        &self,
        query: &TraceQuery,
        next: Option<&str>,
    ) -> Result<TracePage, Error> {
        let url = self.traces_request_url(query, next)?;
        let what = format!("the trace list from GET {}", url.path());
        let ok = self.get(&url).await?;
        let page = decode::page(&ok.body, ok.content_type.as_deref(), &what)?;
        if page.count.is_some_and(|c| c != page.traces.len() as u64) {
            tracing::debug!(count = ?page.count, traces = page.traces.len(), "meta_data.count differs from the number of traces");
        }
        Ok(page)
    }

    /// Lists trackers through the v3 API (`GET /v3/{project_id}/trackers`),
    /// all of them or only `tracker_name`.
    pub async fn list_trackers(&self, tracker_name: Option<&str>) -> Result<Vec<Tracker>, Error> {
        let mut url = self.inner.endpoint.trackers_url();
        if let Some(name) = tracker_name {
            url.set_query(Some(&encode_params(&[("tracker_name", name.to_owned())])));
        }
        let what = format!("the tracker list from GET {}", url.path());
        let ok = self.get(&url).await?;
        let list: TrackerList = decode::decode(&ok.body, ok.content_type.as_deref(), &what)?;
        Ok(list.trackers)
    }

    /// Reads one tracker through the v1 API (`GET /v1.0/{project_id}/tracker?tracker_name=`).
    pub async fn get_tracker(&self, tracker_name: &str) -> Result<Tracker, Error> {
        if tracker_name.trim().is_empty() {
            return Err(Error::InvalidQuery {
                field: "tracker_name",
                problem: "is blank; CTS's management tracker is `system`".to_owned(),
            });
        }
        let mut url = self.inner.endpoint.tracker_url();
        url.set_query(Some(&encode_params(&[(
            "tracker_name",
            tracker_name.to_owned(),
        )])));
        let what = format!("the tracker from GET {}", url.path());
        let ok = self.get(&url).await?;
        decode::decode(&ok.body, ok.content_type.as_deref(), &what)
    }

    /// GET with retries; one span per logical request, attempts inside.
    async fn get(&self, url: &Url) -> Result<Success, Error> {
        let inner = &self.inner;
        let span = tracing::debug_span!(
            "cts.request",
            path = url.path(),
            query = url.query().unwrap_or("")
        );
        retry::run(
            &inner.retry,
            inner.clock.as_ref(),
            inner.random.as_ref(),
            |attempt| {
                let span = tracing::debug_span!(parent: &span, "cts.attempt", attempt);
                inner.transport.get(url).instrument(span)
            },
        )
        .instrument(span.clone())
        .await
    }
}
