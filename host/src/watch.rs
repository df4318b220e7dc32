//! Hot reload: watch the manifests folder and every component's folder, debounce, reload.
//!
//! Folders are watched rather than files, so that an atomic rename-over, an editor's
//! write-then-move, a delete and a re-create are all seen. A reload compiles off the request
//! path and swaps the registry atomically; calls already running finish on their version.

use crate::runtime::Runtime;
use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {source}")]
pub struct WatchError {
    path: PathBuf,
    source: notify::Error,
}

/// A running watcher; dropping it stops watching.
pub struct Watcher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl Runtime {
    /// Watches the manifests folder and the components' folders, reloading after `debounce`
    /// of quiet following a change.
    pub fn watch(self: &Arc<Self>, debounce: Duration) -> Result<Watcher, WatchError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut debouncer: Debouncer<notify::RecommendedWatcher> =
            new_debouncer(debounce, move |events: DebounceEventResult| match events {
                Ok(_) => {
                    let _ = tx.send(());
                }
                Err(e) => tracing::warn!("file watcher: {e}"),
            })
            .map_err(|source| WatchError {
                path: self.manifests_dir().to_path_buf(),
                source,
            })?;
        let manifests = self.manifests_dir().to_path_buf();
        debouncer
            .watcher()
            .watch(&manifests, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError {
                path: manifests.clone(),
                source,
            })?;
        let mut watched: BTreeSet<PathBuf> = BTreeSet::from([manifests]);
        add_component_folders(&mut debouncer, &mut watched, self);
        let rt = self.clone();
        let task = tokio::spawn(async move {
            while rx.recv().await.is_some() {
                // Coalesce the events that arrived while the last reload ran.
                while rx.try_recv().is_ok() {}
                tracing::info!("change seen: reloading manifests");
                rt.reload_with(false).await;
                add_component_folders(&mut debouncer, &mut watched, &rt);
            }
        });
        Ok(Watcher { task })
    }
}

fn add_component_folders(
    debouncer: &mut Debouncer<notify::RecommendedWatcher>,
    watched: &mut BTreeSet<PathBuf>,
    rt: &Runtime,
) {
    let mut folders: BTreeSet<PathBuf> = rt
        .registry()
        .component_files()
        .iter()
        .map(|f| folder_of(f))
        .collect();
    // A manifest that failed because its component is missing is watched too, so that the
    // component's arrival is seen.
    for failure in rt.load_errors() {
        if let Ok(text) = std::fs::read_to_string(&failure.file)
            && let Ok(m) = crate::manifest::parse(&failure.file, &text, &|n| std::env::var(n).ok())
        {
            folders.insert(folder_of(&m.component));
        }
    }
    for folder in folders {
        if watched.contains(&folder) || !folder.is_dir() {
            continue;
        }
        match debouncer
            .watcher()
            .watch(&folder, RecursiveMode::NonRecursive)
        {
            Ok(()) => {
                watched.insert(folder);
            }
            Err(e) => {
                tracing::warn!(folder = %folder.display(), "cannot watch component folder: {e}")
            }
        }
    }
}
