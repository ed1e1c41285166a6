//! The state shared by all request handlers and the feed task: tenant
//! identity, per-project stores and feeds, issued tokens, fault injection.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use url::Url;

use crate::faults::FaultInjector;
use crate::feed::Feed;
use crate::ids::{domain_info, hex_id, project_info, sub_seed, DomainInfo, ProjectInfo};
use crate::store::ProjectStore;
use crate::EmulatorConfig;

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Locks a mutex, recovering the data if a previous holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// One project at run time.
#[derive(Debug)]
pub(crate) struct ProjectState {
    pub info: ProjectInfo,
    pub store: RwLock<ProjectStore>,
    pub feed: Mutex<Feed>,
}

/// An issued token.
#[derive(Debug, Clone)]
pub(crate) struct TokenInfo {
    /// Project the token is scoped to, if any.
    pub project_id: Option<String>,
    pub expires_at_ms: i64,
}

/// Everything the server shares. `Debug` leaves the issued tokens out.
pub(crate) struct Shared {
    pub cfg: EmulatorConfig,
    pub domain: DomainInfo,
    pub user_id: String,
    pub projects: Vec<ProjectState>,
    pub tokens: Mutex<HashMap<String, TokenInfo>>,
    pub faults: FaultInjector,
    /// `http://127.0.0.1:<port>` without trailing slash.
    pub base: String,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("cfg", &self.cfg)
            .field("domain", &self.domain)
            .field(
                "projects",
                &self.projects.iter().map(|p| &p.info).collect::<Vec<_>>(),
            )
            .field("tokens", &lock(&self.tokens).len())
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Builds the state and generates each project's history.
    pub fn new(cfg: EmulatorConfig, base: &Url) -> Shared {
        let now = now_ms();
        let projects = cfg
            .projects
            .iter()
            .map(|name| ProjectState {
                info: project_info(cfg.seed, &cfg.domain_name, name),
                store: RwLock::new(ProjectStore::default()),
                feed: Mutex::new(Feed::new(&cfg, name, now)),
            })
            .collect();
        let shared = Shared {
            domain: domain_info(cfg.seed, &cfg.domain_name),
            user_id: hex_id(
                cfg.seed,
                &["api-user", &cfg.domain_name, &cfg.credentials.username],
            ),
            projects,
            tokens: Mutex::new(HashMap::new()),
            faults: FaultInjector::new(cfg.faults.clone(), sub_seed(cfg.seed, &["faults"])),
            base: base.as_str().trim_end_matches('/').to_owned(),
            cfg,
        };
        shared.catch_up(now);
        shared
    }

    /// Makes every due trace of every project visible.
    pub fn catch_up(&self, now: i64) -> usize {
        self.projects
            .iter()
            .map(|p| lock(&p.feed).catch_up(now, &p.store))
            .sum()
    }

    /// A project by id.
    pub fn project(&self, id: &str) -> Option<&ProjectState> {
        self.projects.iter().find(|p| p.info.id == id)
    }

    /// A project by id or by name.
    pub fn project_by_id_or_name(&self, key: &str) -> Option<&ProjectState> {
        self.projects
            .iter()
            .find(|p| p.info.id == key || p.info.name == key)
    }

    /// The region of the catalog entries for a project (or the first project).
    pub fn region_for(&self, project_id: Option<&str>) -> String {
        project_id
            .and_then(|id| self.project(id))
            .or_else(|| self.projects.first())
            .map(|p| p.info.region.clone())
            .unwrap_or_else(|| "eu-de".to_owned())
    }
}
