//! Hot reload: watch the manifests folder and every component's folder, debounce, reload.
//!
//! Folders are watched rather than files, so that an atomic rename-over, an editor's
//! write-then-move, a delete and a re-create are all seen. Only events that can change content
//! count (create, data write, rename, remove): opening, reading or `stat` never start a rescan;
//! a rescan that finds every manifest and component byte for byte as loaded changes nothing and
//! says nothing (setting only a file's mtime, as `touch -m` does, reaches inotify as a data
//! write, so the content check is what keeps a touch from reloading). Without both rules a
//! reload that reads the files it watches would feed itself forever.

use crate::runtime::Runtime;
use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The longest a change waits for the folder to fall quiet before the rescan.
const MAX_DELAY: Duration = Duration::from_secs(2);

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

/// True for the event kinds that may change what a file holds.
pub fn is_content_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Name(_) | ModifyKind::Any) => true,
        // Metadata (touch, chmod) and access (open, read, close) leave the bytes as they were.
        EventKind::Modify(ModifyKind::Metadata(_) | ModifyKind::Other) | EventKind::Access(_) => {
            false
        }
        // The backend could not say (e.g. a queue overflow): rescan, the content check decides.
        EventKind::Any | EventKind::Other => true,
    }
}

impl Watcher {
    /// Watches the manifests folder and the components' folders, reloading after `debounce`
    /// of quiet following a change.
    pub fn start(runtime: &Arc<Runtime>, debounce: Duration) -> Result<Self, WatchError> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
                Ok(event) if is_content_change(&event.kind) => {
                    tracing::debug!(kind = ?event.kind, paths = ?event.paths, "file change seen");
                    let _ = tx.send(());
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("file watcher: {e}"),
            })
            .map_err(|source| WatchError {
                path: runtime.manifests_dir().to_path_buf(),
                source,
            })?;
        let manifests = runtime.manifests_dir().to_path_buf();
        watcher
            .watch(&manifests, RecursiveMode::NonRecursive)
            .map_err(|source| WatchError {
                path: manifests.clone(),
                source,
            })?;
        let mut watched: BTreeSet<PathBuf> = BTreeSet::from([manifests]);
        add_component_folders(&mut watcher, &mut watched, runtime);
        let rt = runtime.clone();
        let task = tokio::spawn(async move {
            while rx.recv().await.is_some() {
                // Debounce: wait until the folder has been quiet for `debounce`, so that a
                // write in several steps is read once, complete — but no longer than
                // `MAX_DELAY`, since a `touch -m` looks like a data write to inotify and a
                // process touching files all the time would otherwise postpone a real change
                // forever.
                let first = tokio::time::Instant::now();
                loop {
                    tokio::time::sleep(debounce).await;
                    let mut more = false;
                    while rx.try_recv().is_ok() {
                        more = true;
                    }
                    if !more || first.elapsed() >= MAX_DELAY.max(debounce) {
                        break;
                    }
                }
                let changes = rt.reload_with(false).await;
                tracing::debug!(?changes, "rescan done");
                if changes.any() {
                    tracing::info!(
                        published = changes.published,
                        failed = changes.failed,
                        removed = changes.removed,
                        "manifests reloaded after a change"
                    );
                }
                add_component_folders(&mut watcher, &mut watched, &rt);
            }
        });
        Ok(Watcher { task })
    }
}

fn add_component_folders(
    watcher: &mut notify::RecommendedWatcher,
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
    for component in rt.registry().failed_components() {
        folders.insert(folder_of(&component));
    }
    for folder in folders {
        if watched.contains(&folder) || !folder.is_dir() {
            continue;
        }
        match watcher.watch(&folder, RecursiveMode::NonRecursive) {
            Ok(()) => {
                watched.insert(folder);
            }
            Err(e) => {
                tracing::warn!(folder = %folder.display(), "cannot watch component folder: {e}")
            }
        }
    }
}
