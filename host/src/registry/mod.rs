//! Loading adapters from manifests: parse, compile (through the cache), check the contract,
//! describe, and publish. A manifest that fails leaves an error that names file and key.

mod load;
mod reload;

pub use load::{load_adapter, reserved_instances};

use crate::call::LoadedAdapter;
use crate::manifest::ManifestError;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long `describe` may take at load.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What `weft adapters` and `GET /v1/adapters` show of one manifest.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterStatus {
    /// Instance name (the file name when the manifest could not be read).
    pub name: String,
    /// Manifest file.
    pub file: PathBuf,
    /// "ready"; "stale" when the manifest's latest change failed and the previous version
    /// keeps serving; "failed" when nothing of it is loaded.
    pub status: &'static str,
    /// Adapter version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// SHA-256 of the component.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_hash: Option<String>,
    /// Operations offered.
    pub operations: Vec<String>,
    /// The load error, naming file and key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one rescan changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadChanges {
    /// New adapter versions published.
    pub published: u32,
    /// Manifests whose (new) content failed to load.
    pub failed: u32,
    /// Adapters no longer served.
    pub removed: u32,
}

impl ReloadChanges {
    /// True if the rescan changed anything.
    pub fn any(&self) -> bool {
        self.published + self.failed + self.removed > 0
    }
}

/// A manifest that failed, with what it failed on, so that an unchanged failure is not loaded
/// (and logged) again at every rescan.
#[derive(Debug, Clone)]
struct FailedLoad {
    fingerprint: String,
    component: Option<PathBuf>,
}

/// The reload events kept for the ops console.
const HISTORY: usize = 100;

/// One thing a rescan did, for the ops console's reload history.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadEvent {
    /// When, Unix ms.
    pub at_ms: i64,
    /// The adapter (or the file's stem when the manifest could not be read).
    pub adapter: String,
    /// The manifest file.
    pub file: PathBuf,
    /// `published`, `failed` or `removed`.
    pub what: &'static str,
    /// The version and component hash published, or the error of the failed change.
    pub detail: String,
}

/// The adapters a process serves, swapped atomically as a whole.
pub struct Registry {
    adapters: ArcSwap<BTreeMap<String, Arc<LoadedAdapter>>>,
    failures: ArcSwap<Vec<ManifestError>>,
    failed: ArcSwap<BTreeMap<PathBuf, FailedLoad>>,
    generation: tokio::sync::watch::Sender<u64>,
    history: std::sync::Mutex<std::collections::VecDeque<ReloadEvent>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            adapters: ArcSwap::default(),
            failures: ArcSwap::default(),
            failed: ArcSwap::default(),
            generation: tokio::sync::watch::Sender::new(0),
            history: std::sync::Mutex::default(),
        }
    }
}

impl Registry {
    /// The last reload events, newest first (at most 100).
    pub fn history(&self) -> Vec<ReloadEvent> {
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.iter().rev().cloned().collect()
    }

    fn remember(&self, adapter: &str, file: &Path, what: &'static str, detail: String) {
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(ReloadEvent {
            at_ms: crate::clock::now_ms(),
            adapter: adapter.to_string(),
            file: file.to_path_buf(),
            what,
            detail,
        });
    }

    /// The adapter instance called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedAdapter>> {
        self.adapters.load().get(name).cloned()
    }

    /// Names of the loaded adapters.
    pub fn names(&self) -> Vec<String> {
        self.adapters.load().keys().cloned().collect()
    }

    /// Errors of the manifests that failed to load.
    pub fn failures(&self) -> Vec<ManifestError> {
        self.failures.load().as_ref().clone()
    }

    /// Components named by manifests that failed to load (the watcher waits for them).
    pub fn failed_components(&self) -> Vec<PathBuf> {
        self.failed
            .load()
            .values()
            .filter_map(|f| f.component.clone())
            .collect()
    }

    /// Changes each time the set of published adapters changes (schedulers wait on it).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Status of every manifest, loaded or not.
    pub fn status(&self) -> Vec<AdapterStatus> {
        let failures = self.failures.load();
        let failed_file = |f: &Path| {
            failures
                .iter()
                .find(|e| e.file == f)
                .map(ToString::to_string)
        };
        let mut out: Vec<AdapterStatus> = self
            .adapters
            .load()
            .values()
            .map(|a| {
                let d = a.description();
                AdapterStatus {
                    name: a.manifest.name.clone(),
                    file: a.manifest.file.clone(),
                    status: if failed_file(&a.manifest.file).is_some() {
                        "stale"
                    } else {
                        "ready"
                    },
                    version: d.map(|d| d.version.clone()),
                    component_hash: Some(a.component_hash.clone()),
                    operations: d
                        .map(|d| d.operations.iter().map(|o| o.name.clone()).collect())
                        .unwrap_or_default(),
                    error: failed_file(&a.manifest.file),
                }
            })
            .collect();
        let serving: Vec<PathBuf> = out.iter().map(|s| s.file.clone()).collect();
        for f in failures.iter().filter(|f| !serving.contains(&f.file)) {
            out.push(AdapterStatus {
                name: f
                    .file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file: f.file.clone(),
                status: "failed",
                version: None,
                component_hash: None,
                operations: Vec::new(),
                error: Some(f.to_string()),
            });
        }
        out
    }

    /// Every component file the loaded adapters use, for the watcher.
    pub fn component_files(&self) -> Vec<PathBuf> {
        self.adapters
            .load()
            .values()
            .map(|a| a.manifest.component.clone())
            .collect()
    }
}
