//! Loading adapters from manifests: parse, compile (through the cache), check the contract,
//! describe, and publish. A manifest that fails leaves an error that names file and key.

use crate::bindings::AdapterWorldPre;
use crate::call::{LoadedAdapter, Shared};
use crate::http::{HttpCapability, HttpPolicy};
use crate::manifest::{self, ManifestError};
use crate::redact::Redactor;
use arc_swap::ArcSwap;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

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

    /// Loads every manifest in `dir` and publishes the result in one swap. Unless `force`, a
    /// manifest whose text and component are unchanged keeps its loaded version untouched; a
    /// manifest that fails to load keeps serving its previous version, with the error in status.
    pub async fn load_dir(
        &self,
        shared: &Arc<Shared>,
        dir: &Path,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
        force: bool,
    ) -> ReloadChanges {
        let mut changes = ReloadChanges::default();
        let current = self.adapters.load_full();
        let failed_before = self.failed.load_full();
        let mut failed_now = BTreeMap::new();
        let by_file: BTreeMap<&Path, &Arc<LoadedAdapter>> = current
            .values()
            .map(|a| (a.manifest.file.as_path(), a))
            .collect();
        let mut adapters = BTreeMap::new();
        let mut failures = Vec::new();
        let files = match manifest::files_in(dir) {
            Ok(files) => files,
            Err(e) => {
                // An unreadable folder changes nothing: what serves keeps serving.
                self.failures.store(Arc::new(vec![ManifestError {
                    file: dir.to_path_buf(),
                    key: String::new(),
                    message: format!("manifests folder cannot be read: {e}"),
                }]));
                return changes;
            }
        };
        // Every file's adapter by the name it claims: two files claiming one name are decided
        // after the loop, when all of them are known.
        let mut claims: BTreeMap<String, Vec<(PathBuf, Arc<LoadedAdapter>)>> = BTreeMap::new();
        for file in files {
            let previous = by_file.get(file.as_path()).copied();
            // The same content that failed last time fails the same way: keep its error, quietly.
            // (Only a file that failed is fingerprinted here; a loaded one is compared by
            // `unchanged` below, so no file is read twice in one rescan.)
            if !force
                && let Some(before) = failed_before.get(&file)
                && before.fingerprint == fingerprint(&file, env).await.fingerprint
                && let Some(e) = self.failures.load().iter().find(|e| e.file == file)
            {
                failures.push(e.clone());
                failed_now.insert(file.clone(), before.clone());
                if let Some(old) = previous {
                    claims
                        .entry(old.manifest.name.clone())
                        .or_default()
                        .push((file.clone(), old.clone()));
                }
                continue;
            }
            let loaded = match previous {
                Some(old) if !force && unchanged(old, &file).await => Ok(old.clone()),
                _ => load_adapter(shared, &file, env, &current).await,
            };
            let adapter = match loaded {
                Ok(adapter) => adapter,
                Err(e) => {
                    tracing::error!("{e}");
                    self.remember(&file_stem(&file), &file, "failed", e.to_string());
                    changes.failed += 1;
                    shared.metrics.record_load(&file_stem(&file), false);
                    failed_now.insert(file.clone(), fingerprint(&file, env).await);
                    failures.push(e);
                    match previous {
                        Some(old) => {
                            tracing::warn!(adapter = %old.manifest.name, "the previous version keeps serving");
                            old.clone()
                        }
                        None => continue,
                    }
                }
            };
            claims
                .entry(adapter.manifest.name.clone())
                .or_default()
                .push((file, adapter));
        }
        for (name, mut claimants) in claims {
            if claimants.len() > 1 {
                // Neither file wins by sorting first: the one already serving (if any) keeps
                // serving, and both files carry the error until one is renamed or removed.
                let files: Vec<String> = claimants
                    .iter()
                    .map(|(f, _)| f.display().to_string())
                    .collect();
                let message = format!(
                    "adapter name {name:?} is claimed by {}: none of them is loaded until one is renamed or removed",
                    files.join(" and ")
                );
                tracing::error!("{message}");
                for (file, _) in &claimants {
                    self.remember(&name, file, "failed", message.clone());
                    failures.push(ManifestError {
                        file: file.clone(),
                        key: "name".into(),
                        message: message.clone(),
                    });
                }
                if let Some(running) = current.get(&name) {
                    tracing::warn!(adapter = %name, "the running version keeps serving");
                    adapters.insert(name, running.clone());
                }
                continue;
            }
            let Some((_, adapter)) = claimants.pop() else {
                continue;
            };
            adapters.insert(name, adapter);
        }
        reserve_instances(
            shared.engine.options().max_instances,
            &current,
            &mut adapters,
            &mut failures,
        );
        for (name, adapter) in &adapters {
            if current.get(name).is_none_or(|p| !Arc::ptr_eq(p, adapter)) {
                tracing::info!(adapter = %name, hash = %adapter.component_hash, "adapter version published");
                let version = adapter.description().map_or("", |d| d.version.as_str());
                self.remember(
                    name,
                    &adapter.manifest.file,
                    "published",
                    format!("version {version}, component {}", adapter.component_hash),
                );
                changes.published += 1;
                shared.metrics.record_load(name, true);
            }
        }
        for gone in current
            .values()
            .filter(|a| !adapters.contains_key(&a.manifest.name))
        {
            tracing::info!(adapter = %gone.manifest.name, "adapter removed: its schedules and routes stop, its queued jobs wait");
            self.remember(
                &gone.manifest.name,
                &gone.manifest.file,
                "removed",
                "its schedules and routes stop, its queued jobs wait".into(),
            );
            changes.removed += 1;
        }
        if changes.removed > 0 {
            // A removed adapter's last hour goes with it.
            let names: Vec<String> = adapters.keys().cloned().collect();
            shared.metrics.recent.retain(&names);
        }
        self.adapters.store(Arc::new(adapters));
        self.failures.store(Arc::new(failures));
        self.failed.store(Arc::new(failed_now));
        if changes.published + changes.removed > 0 {
            self.generation.send_modify(|g| *g += 1);
        }
        changes
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

/// Every way `manifest` differs from what the adapter declares it reads: `[config]` keys it
/// does not know (typos) or lacks, values of the wrong type, schedules and routes it does not
/// run. Each is (key, what is wrong); all of them, not the first.
fn check_declared(
    manifest: &crate::manifest::Manifest,
    d: &crate::description::AdapterDescription,
) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let who = format!("adapter {} {}", d.name, d.version);
    if !d.config.is_empty() {
        let given = manifest.config.as_object().cloned().unwrap_or_default();
        let known: Vec<&str> = d.config.iter().map(|k| k.name.as_str()).collect();
        for (key, value) in &given {
            // `base_url` is the manifest's own key, handed to every adapter.
            if key == "base_url" {
                continue;
            }
            let Some(declared) = d.config.iter().find(|k| k.name == *key) else {
                let near = known
                    .iter()
                    .find(|k| similar(k, key))
                    .map(|k| format!(" (did you mean {k:?}?)"))
                    .unwrap_or_default();
                problems.push((
                    format!("config.{key}"),
                    format!(
                        "{who} reads no such key{near}; it reads {}",
                        known.join(", ")
                    ),
                ));
                continue;
            };
            let fits = match declared.kind {
                "string" => value.is_string(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "list" => value.is_array(),
                "table" => value.is_object(),
                _ => true,
            };
            if !fits {
                problems.push((
                    format!("config.{key}"),
                    format!("expected a {}, found {value}", declared.kind),
                ));
            }
        }
        for k in d.config.iter().filter(|k| k.required) {
            if !given.contains_key(&k.name) {
                problems.push((
                    format!("config.{}", k.name),
                    format!("required by {who}: {}", k.description),
                ));
            }
        }
    }
    for s in manifest
        .schedules
        .iter()
        .filter(|_| !d.schedules.is_empty())
    {
        if !d.schedules.contains(&s.name) {
            problems.push((
                "schedules".into(),
                format!(
                    "{who} runs no schedule {:?} (it runs: {})",
                    s.name,
                    d.schedules.join(", ")
                ),
            ));
        }
    }
    for r in manifest.routes.iter().filter(|_| !d.routes.is_empty()) {
        if !d.routes.contains(&r.name) {
            problems.push((
                "routes".into(),
                format!(
                    "{who} serves no route {:?} (it serves: {})",
                    r.name,
                    d.routes.join(", ")
                ),
            ));
        }
    }
    problems
}

/// Two keys one typo apart (one letter added, dropped, changed, or two swapped).
fn similar(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = row;
    }
    prev[b.len()] <= 2
}

/// Instances an adapter may hold at once: one per concurrent call, and one for a token fetch
/// running beside them.
pub fn reserved_instances(manifest: &crate::manifest::Manifest) -> u32 {
    manifest.limits.concurrency.saturating_add(1)
}

/// Gives each adapter its own share of the instance pool: the adapters in `adapters` must
/// together reserve no more than `pool` instances, so that one adapter's hanging calls can
/// never take the instances another needs. Versions already serving keep their share; a new or
/// changed manifest that does not fit is refused (its running version, if any, keeps serving).
fn reserve_instances(
    pool: u32,
    current: &BTreeMap<String, Arc<LoadedAdapter>>,
    adapters: &mut BTreeMap<String, Arc<LoadedAdapter>>,
    failures: &mut Vec<ManifestError>,
) {
    let is_running = |a: &Arc<LoadedAdapter>| {
        current
            .get(&a.manifest.name)
            .is_some_and(|c| Arc::ptr_eq(c, a))
    };
    let mut reserved: u32 = adapters
        .values()
        .filter(|a| is_running(a))
        .map(|a| reserved_instances(&a.manifest))
        .fold(0, u32::saturating_add);
    let newcomers: Vec<Arc<LoadedAdapter>> = adapters
        .values()
        .filter(|a| !is_running(a))
        .cloned()
        .collect();
    for adapter in newcomers {
        let name = adapter.manifest.name.clone();
        let wants = reserved_instances(&adapter.manifest);
        let previous = current.get(&name);
        let others = reserved;
        if others.saturating_add(wants) <= pool {
            reserved = others.saturating_add(wants);
            continue;
        }
        let message = format!(
            "limits.concurrency = {} needs {wants} instances (one per call and one for token fetches), but the pool has {pool} and the other adapters reserve {others}: lower limits.concurrency here or elsewhere, or start weft with a larger --max-instances",
            adapter.manifest.limits.concurrency
        );
        tracing::error!(adapter = %name, "{message}");
        failures.push(ManifestError {
            file: adapter.manifest.file.clone(),
            key: "limits.concurrency".into(),
            message,
        });
        match previous {
            Some(p) => {
                tracing::warn!(adapter = %name, "the previous version keeps serving");
                reserved = reserved.saturating_add(reserved_instances(&p.manifest));
                adapters.insert(name, p.clone());
            }
            None => {
                adapters.remove(&name);
            }
        }
    }
}

fn file_stem(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The content a manifest's load depends on: its text and its component's bytes (the
/// environment is not in it: a changed variable takes a forced reload, SIGHUP or the admin call).
async fn fingerprint(file: &Path, env: &(dyn Fn(&str) -> Option<String> + Sync)) -> FailedLoad {
    let mut hash = Sha256::new();
    let mut component = None;
    match crate::files::read_regular_async(file, crate::files::MAX_MANIFEST).await {
        Ok(text) => {
            hash.update(&text);
            if let Ok(text) = std::str::from_utf8(&text)
                && let Ok(m) = manifest::parse(file, text, env)
            {
                hash.update([0]);
                match crate::files::read_regular_async(&m.component, crate::files::MAX_COMPONENT)
                    .await
                {
                    Ok(bytes) => hash.update(Sha256::digest(&bytes)),
                    Err(e) => hash.update(format!("absent: {e}")),
                }
                component = Some(m.component);
            }
        }
        Err(e) => hash.update(format!("unreadable: {e}")),
    }
    FailedLoad {
        fingerprint: hex::encode(hash.finalize()),
        component,
    }
}

/// True if `file` and the component it names are byte for byte what `old` was loaded from.
async fn unchanged(old: &LoadedAdapter, file: &Path) -> bool {
    let Ok(text) = crate::files::read_regular_async(file, crate::files::MAX_MANIFEST).await else {
        return false;
    };
    if hex::encode(Sha256::digest(&text)) != old.source_hash {
        return false;
    }
    match crate::files::read_regular_async(&old.manifest.component, crate::files::MAX_COMPONENT)
        .await
    {
        Ok(bytes) => hex::encode(Sha256::digest(&bytes)) == old.component_hash,
        Err(_) => false,
    }
}

/// Loads one manifest and its component, ready to serve. A new version of a running adapter
/// (`running`) with the same `limits.concurrency` shares the running version's permits and
/// queue count, so that calls still running on the old version count against the new one and
/// a reload never lets more calls reach the platform at once than the manifest allows.
pub async fn load_adapter(
    shared: &Arc<Shared>,
    file: &Path,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    running: &BTreeMap<String, Arc<LoadedAdapter>>,
) -> Result<Arc<LoadedAdapter>, ManifestError> {
    let text = crate::files::read_regular_async(file, crate::files::MAX_MANIFEST)
        .await
        .map_err(|e| ManifestError {
            file: file.to_path_buf(),
            key: String::new(),
            message: format!("cannot be read: {e}"),
        })?;
    let source_hash = hex::encode(Sha256::digest(&text));
    let text = String::from_utf8(text).map_err(|_| ManifestError {
        file: file.to_path_buf(),
        key: String::new(),
        message: "is not UTF-8 text".into(),
    })?;
    let manifest = manifest::parse(file, &text, env)?;
    let err = |key: &str, message: String| ManifestError {
        file: file.to_path_buf(),
        key: key.to_string(),
        message,
    };
    let max = shared.engine.options().max_instance_memory;
    if manifest.limits.memory.bytes() > max {
        return Err(err(
            "limits.memory",
            format!(
                "{} exceeds the host's per-instance maximum of {} (weft --max-instance-memory)",
                manifest.limits.memory,
                manifest::ByteSize::bytes_exact(max)
            ),
        ));
    }
    let bytes = crate::files::read_regular_async(&manifest.component, crate::files::MAX_COMPONENT)
        .await
        .map_err(|e| {
            err(
                "component",
                format!("cannot read {}: {e}", manifest.component.display()),
            )
        })?;
    let compile_shared = shared.clone();
    let (component, hash) =
        tokio::task::spawn_blocking(move || compile_shared.engine.compile(&bytes))
            .await
            .map_err(|e| err("component", format!("compilation did not finish: {e}")))?
            .map_err(|e| {
                err(
                    "component",
                    format!("{}: {e}", manifest.component.display()),
                )
            })?;
    let pre = shared
        .linker
        .instantiate_pre(&component)
        .and_then(AdapterWorldPre::new)
        .map_err(|e| {
            err(
                "component",
                format!(
                    "{} does not implement weft:adapter@0.1.0: {e:#}",
                    manifest.component.display()
                ),
            )
        })?;
    let http = HttpCapability::new(
        &manifest.name,
        HttpPolicy {
            allowed: manifest.allowed_hosts.clone(),
            timeout: manifest.limits.http_timeout.get(),
            max_request: manifest.limits.http_request.bytes(),
            max_response: manifest.limits.http_response.bytes(),
            propagate_trace: manifest.trace_propagation,
        },
        shared.metrics.clone(),
    )
    .map_err(|e| err("", e.to_string()))?;
    let redactor = Redactor::new(manifest.secrets.values().map(|s| s.expose()));
    let credentials = shared.tokens.credentials_fingerprint(
        manifest
            .secrets
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose())),
    );
    let config_json = manifest.config.to_string();
    let carried = running
        .get(&manifest.name)
        .filter(|old| old.manifest.limits.concurrency == manifest.limits.concurrency)
        .map(|old| (old.permits.clone(), old.waiting.clone()));
    let (permits, waiting) = carried.unwrap_or_else(|| {
        (
            Arc::new(Semaphore::new(manifest.limits.concurrency as usize)),
            Arc::default(),
        )
    });
    let adapter = Arc::new(LoadedAdapter {
        manifest,
        source_hash,
        component_hash: hash,
        loaded_at_ms: crate::clock::now_ms(),
        description: OnceLock::new(),
        pre,
        http,
        redactor,
        credentials,
        config_json,
        permits,
        waiting,
        shared: shared.clone(),
    });
    let description = adapter
        .describe(Instant::now() + DESCRIBE_TIMEOUT)
        .await
        .map_err(|f| err("component", format!("describe() failed: {}", f.message)))?;
    if let Some(op) = description
        .operations
        .iter()
        .find(|o| o.name.starts_with(crate::jobs::JOB_PREFIX))
    {
        return Err(err(
            "component",
            format!(
                "operation {:?}: names starting with {:?} are the host's (schedule runs)",
                op.name,
                crate::jobs::JOB_PREFIX
            ),
        ));
    }
    for secret in &description.secrets {
        if !adapter.manifest.secrets.contains_key(secret) {
            return Err(err(
                "secrets",
                format!(
                    "adapter {} {} needs secret {secret:?} (add `{secret} = \"env:SOME_VARIABLE\"` under [secrets])",
                    description.name, description.version
                ),
            ));
        }
    }
    let problems = check_declared(&adapter.manifest, &description);
    if let Some(((key, first), rest)) = problems.split_first() {
        // Every problem at once: the first names the key, the others follow with theirs.
        let mut message = first.clone();
        for (k, m) in rest {
            message.push_str(&format!("; {k}: {m}"));
        }
        return Err(err(key, message));
    }
    let _ = adapter.description.set(description);
    tracing::info!(adapter = %adapter.manifest.name, file = %file.display(), hash = %adapter.component_hash, "adapter loaded");
    Ok(adapter)
}
