//! A reload: every manifest of the directory loaded (or kept, when unchanged) and the result
//! published in one swap; a manifest that fails keeps its previous version serving.

use super::load::{load_adapter, reserve_instances};
use super::{FailedLoad, Registry, ReloadChanges};
use crate::call::{LoadedAdapter, Shared};
use crate::manifest::{self, ManifestError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

impl Registry {
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
        let adapters = self.settle_claims(claims, &current, &mut failures);
        self.publish(
            shared,
            &current,
            adapters,
            failures,
            failed_now,
            &mut changes,
        );
        changes
    }

    /// Swaps `adapters` in for `current` once the instance pool's reservations are settled,
    /// with the rescan's `failures`; records what changed and drops compiled components no
    /// adapter uses any more.
    fn publish(
        &self,
        shared: &Shared,
        current: &BTreeMap<String, Arc<LoadedAdapter>>,
        mut adapters: BTreeMap<String, Arc<LoadedAdapter>>,
        mut failures: Vec<ManifestError>,
        failed_now: BTreeMap<PathBuf, FailedLoad>,
        changes: &mut ReloadChanges,
    ) {
        reserve_instances(
            shared.engine.options().max_instances,
            current,
            &mut adapters,
            &mut failures,
        );
        self.record_changes(shared, current, &adapters, changes);
        let in_use: std::collections::HashSet<&str> = adapters
            .values()
            .map(|a| a.component_hash.as_str())
            .collect();
        shared.engine.retain_compiled(&in_use);
        self.adapters.store(Arc::new(adapters));
        self.failures.store(Arc::new(failures));
        self.failed.store(Arc::new(failed_now));
        if changes.published + changes.removed > 0 {
            self.generation.send_modify(|g| *g += 1);
        }
    }

    /// The adapter of each name, from every file that claims it: a name claimed by one file
    /// is that file's; a name claimed by several is nobody's new version (the one already
    /// serving keeps serving), and every claimant carries the error.
    fn settle_claims(
        &self,
        claims: BTreeMap<String, Vec<(PathBuf, Arc<LoadedAdapter>)>>,
        current: &BTreeMap<String, Arc<LoadedAdapter>>,
        failures: &mut Vec<ManifestError>,
    ) -> BTreeMap<String, Arc<LoadedAdapter>> {
        let mut adapters = BTreeMap::new();
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
        adapters
    }

    /// Records what the swap from `current` to `adapters` publishes and removes: the reloads
    /// history, the metrics, and the counts in `changes`.
    fn record_changes(
        &self,
        shared: &Shared,
        current: &BTreeMap<String, Arc<LoadedAdapter>>,
        adapters: &BTreeMap<String, Arc<LoadedAdapter>>,
        changes: &mut ReloadChanges,
    ) {
        for (name, adapter) in adapters {
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
    }
}

pub(super) fn file_stem(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The content a manifest's load depends on: its text and its component's bytes (the
/// environment is not in it: a changed variable takes a forced reload, SIGHUP or the admin call).
pub(super) async fn fingerprint(
    file: &Path,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> FailedLoad {
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
pub(super) async fn unchanged(old: &LoadedAdapter, file: &Path) -> bool {
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
