//! The running emulator: binds the socket, generates the history, serves
//! the router and feeds live traces until shut down.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use crate::archive::{self, ArchiveOptions, ArchiveSummary};
use crate::clouds::{self, AuthKind};
use crate::config::Credentials;
use crate::ids::{DomainInfo, ProjectInfo};
use crate::state::{lock, now_ms, Shared};
use crate::{EmulatorConfig, Error};

/// How often the feed task makes due traces visible. Requests also catch
/// up on their own project, so this only bounds the truth's staleness.
const FEED_TICK: Duration = Duration::from_millis(20);

/// A running emulator. Dropping it stops the server; [`Emulator::shutdown`]
/// also waits for it to finish.
pub struct Emulator {
    shared: Arc<Shared>,
    base: Url,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    feeder: JoinHandle<()>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("base", &self.base.as_str())
            .field("projects", &self.projects())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Validates `cfg`, listens on `addr` (port 0 = any free port), generates
    /// each project's history and starts serving.
    pub async fn start(cfg: EmulatorConfig, addr: SocketAddr) -> Result<Emulator, Error> {
        cfg.validate()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let host = if local_addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            local_addr.ip()
        };
        let base = Url::parse(&format!(
            "http://{}/",
            SocketAddr::new(host, local_addr.port())
        ))
        .map_err(|e| {
            Error::config(
                "addr",
                format!("no URL for {local_addr}: {e}"),
                "listen on 127.0.0.1",
            )
        })?;
        let base_for_state = base.clone();
        let shared = tokio::task::spawn_blocking(move || Shared::new(cfg, &base_for_state))
            .await
            .map_err(|e| Error::Startup(format!("history generation did not finish: {e}")))?;
        let shared = Arc::new(shared);
        tracing::debug!(base = %base, projects = shared.projects.len(), "cts emulator listening");

        let (stop, mut stop_rx) = watch::channel(false);
        let app = crate::http::router(shared.clone());
        let mut server_stop = stop_rx.clone();
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = server_stop.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::debug!(error = %e, "cts emulator server ended with an error");
            }
        });
        let feed_state = shared.clone();
        let feeder = tokio::spawn(async move {
            let mut tick = tokio::time::interval(FEED_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => { feed_state.catch_up(now_ms()); }
                    r = stop_rx.wait_for(|s| *s) => { let _ = r; break; }
                }
            }
        });
        Ok(Emulator {
            shared,
            base,
            local_addr,
            stop,
            server,
            feeder,
        })
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn base_url(&self) -> Url {
        self.base.clone()
    }

    /// The IAM endpoint, `<base>/v3` (what goes into `auth_url`).
    pub fn iam_url(&self) -> Url {
        let mut u = self.base.clone();
        u.set_path("/v3");
        u
    }

    /// The socket address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The projects, in configuration order.
    pub fn projects(&self) -> Vec<ProjectInfo> {
        self.shared
            .projects
            .iter()
            .map(|p| p.info.clone())
            .collect()
    }

    /// The domain.
    pub fn domain(&self) -> DomainInfo {
        self.shared.domain.clone()
    }

    /// The accepted credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.shared.cfg.credentials
    }

    /// The configuration the emulator runs with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.cfg
    }

    /// Ids of all traces of a project (id or name) visible now, in the order
    /// they became visible (ascending `record_time`). Empty for an unknown project.
    pub fn visible_trace_ids(&self, project_id: &str) -> Vec<String> {
        let Some(p) = self.shared.project_by_id_or_name(project_id) else {
            return Vec::new();
        };
        lock(&p.feed).catch_up(now_ms(), &p.store);
        match p.store.read() {
            Ok(s) => s.ids(),
            Err(poisoned) => poisoned.into_inner().ids(),
        }
    }

    /// Number of generated traces of a project not yet visible.
    pub fn pending_count(&self, project_id: &str) -> Result<usize, Error> {
        let p = self
            .shared
            .project_by_id_or_name(project_id)
            .ok_or_else(|| Error::UnknownProject(project_id.to_owned()))?;
        let mut feed = lock(&p.feed);
        feed.catch_up(now_ms(), &p.store);
        Ok(feed.pending())
    }

    /// A clouds.yaml with one cloud per project (named like the project).
    pub fn clouds_yaml(&self, auth: AuthKind) -> String {
        clouds::clouds_yaml(
            self.iam_url().as_str(),
            &self.shared.domain,
            &self.projects(),
            &self.shared.cfg.credentials,
            auth,
        )
    }

    /// Writes every visible trace into OBS-layout archive files under `dir`
    /// (cts-api.md §6). Blocking file I/O.
    pub fn write_archives(
        &self,
        dir: &Path,
        opts: &ArchiveOptions,
    ) -> Result<ArchiveSummary, Error> {
        self.shared.catch_up(now_ms());
        archive::write(&self.shared, dir, opts)
    }

    /// Stops serving and waits (up to 5 s) for open requests to finish.
    pub async fn shutdown(self) {
        let Emulator {
            stop,
            server,
            feeder,
            ..
        } = self;
        let _ = stop.send(true);
        let _ = feeder.await;
        if tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .is_err()
        {
            tracing::debug!("cts emulator server did not stop within 5 s");
        }
    }
}
