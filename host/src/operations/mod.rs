//! What an operator does, written once: list and show jobs, retry and cancel them one by one
//! or all the dead ones at once, count the queues, pause and resume adapters, read the host's
//! own records (API tokens, console sessions), check readiness and refresh the store's metrics.
//!
//! The front door, the console and the CLI all come through here, so `GET /v1/jobs`, the
//! console's jobs page and `weft jobs list` are answered by the same functions, and none of
//! them touches the store itself. An [`Operations`] works over a running [`Runtime`] (the
//! server: a retry wakes the workers, an adapter's `[retry]` comes from what is loaded) or
//! over a store alone (the CLI: no engine is started, an adapter's `[retry]` is read from its
//! manifest).

mod jobs;
mod journal;
mod observe;
mod records;
mod storage;

pub use jobs::{JobCounts, Queue};
pub use records::Records;
pub use storage::{KeyPage, StorageRefused, StoredValue};

/// What a call may carry besides its input (an idempotency key, a deadline…).
pub use crate::call::{CallOptions, ItemsSink};
/// Why an operation could not reach the store.
pub use crate::store::StoreError;
/// The host's own namespaces in the store.
pub use crate::store::host_namespace;
/// The job vocabulary of the operations: a job as the store keeps it, its states, a listing's
/// filter and what an enqueue did.
pub use crate::store::{Enqueued, JobFilter, JobRecord, JobState};

use crate::pause::Pauses;
use crate::runtime::Runtime;
use crate::store::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The operator's verbs over one deployment's store (see the module's doc).
#[derive(Clone)]
pub struct Operations {
    store: Arc<dyn Store>,
    over: Over,
}

/// What an [`Operations`] works over besides the store.
#[derive(Clone)]
enum Over {
    /// A running host: its pauses, its loaded adapters, its workers to wake.
    Runtime(Arc<Runtime>),
    /// The store alone (the CLI): pauses of its own, and the manifests folder for an adapter's
    /// `[retry]`.
    Store {
        pauses: Arc<Pauses>,
        schedule_pauses: Arc<Pauses>,
        manifests: PathBuf,
    },
}

impl Operations {
    /// The operations of a running host.
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Self {
            store: runtime.shared().store.clone(),
            over: Over::Runtime(runtime),
        }
    }

    /// The operations of the store `store` names (as `--store` does) with data folder `data`,
    /// without starting a host: the CLI's. The store is checked to be the one this data folder
    /// was used with; `init` lets a new data folder adopt a shared store.
    pub async fn open(
        store: Option<&str>,
        data: &Path,
        manifests: &Path,
        timeout: Duration,
        init: bool,
    ) -> Result<Self, StoreError> {
        let opened = crate::store::open_with(store, data, timeout).await?;
        crate::store::check_identity(opened.as_ref(), data, init).await?;
        Ok(Self {
            over: Over::Store {
                pauses: Arc::new(Pauses::new(opened.clone())),
                schedule_pauses: Arc::new(Pauses::of_schedules(opened.clone())),
                manifests: manifests.to_path_buf(),
            },
            store: opened,
        })
    }

    /// The store the operations work on, for a host started over it (`weft serve`, `weft
    /// invoke`): one store is opened, and checked, once.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    fn pauses(&self) -> &Pauses {
        match &self.over {
            Over::Runtime(runtime) => &runtime.shared().pauses,
            Over::Store { pauses, .. } => pauses,
        }
    }

    fn schedule_pauses(&self) -> &Pauses {
        match &self.over {
            Over::Runtime(runtime) => &runtime.shared().schedule_pauses,
            Over::Store {
                schedule_pauses, ..
            } => schedule_pauses,
        }
    }

    /// Wakes the workers of this process (after a change that makes a job runnable).
    fn wake(&self) {
        if let Over::Runtime(runtime) = &self.over {
            runtime.shared().jobs_wakeup.notify_waiters();
        }
    }

    /// Every paused adapter, as stored.
    pub async fn paused(&self) -> crate::pause::PausedSet {
        self.pauses().all().await
    }

    /// Pauses `adapter`'s jobs and schedules, and its synchronous calls too when
    /// `refuse_calls`.
    pub async fn pause(&self, adapter: &str, refuse_calls: bool) -> Result<(), StoreError> {
        self.pauses().pause(adapter, refuse_calls).await
    }

    /// Resumes `adapter`; answers whether it was paused.
    pub async fn resume(&self, adapter: &str) -> Result<bool, StoreError> {
        let was = self.pauses().resume(adapter).await?;
        self.wake();
        Ok(was)
    }

    /// Every schedule of every loaded adapter, with its last and next tick (none without a
    /// running host: the schedules are the loaded adapters').
    pub async fn schedules(&self) -> Vec<crate::schedule::ScheduleStatus> {
        match &self.over {
            Over::Runtime(runtime) => crate::schedule::statuses(runtime).await,
            Over::Store { .. } => Vec::new(),
        }
    }

    /// `adapter`'s schedule `name` with its last and next tick, if a loaded adapter declares
    /// it (none without a running host).
    pub async fn schedule(
        &self,
        adapter: &str,
        name: &str,
    ) -> Option<crate::schedule::ScheduleStatus> {
        match &self.over {
            Over::Runtime(runtime) => crate::schedule::status_of(runtime, adapter, name).await,
            Over::Store { .. } => None,
        }
    }

    /// Runs `adapter`'s schedule `name` now as a job of its own; answers the job's id.
    pub async fn run_schedule(
        &self,
        adapter: &str,
        name: &str,
    ) -> Result<String, crate::error::InvokeError> {
        match &self.over {
            Over::Runtime(runtime) => crate::schedule::run_now(runtime, adapter, name).await,
            Over::Store { .. } => Err(crate::error::InvokeError::new(
                crate::error::ErrorKind::Unavailable,
                adapter,
                name,
                "a schedule runs in a host: start weft serve",
            )),
        }
    }

    /// Pauses `adapter`'s schedule `name`: its ticks are not run until it is resumed.
    pub async fn pause_schedule(&self, adapter: &str, name: &str) -> Result<(), StoreError> {
        let key = crate::pause::schedule_key(adapter, name);
        self.schedule_pauses().pause(&key, false).await
    }

    /// Resumes `adapter`'s schedule `name`; answers whether it was paused.
    pub async fn resume_schedule(&self, adapter: &str, name: &str) -> Result<bool, StoreError> {
        let key = crate::pause::schedule_key(adapter, name);
        self.schedule_pauses().resume(&key).await
    }

    /// `adapter`'s schedule `name`'s last runs, newest first.
    pub async fn schedule_runs(
        &self,
        adapter: &str,
        name: &str,
    ) -> Result<Vec<crate::jobs::runs::ScheduleRun>, StoreError> {
        crate::jobs::runs::history(self.store.as_ref(), adapter, name).await
    }

    /// Writes a consistent copy of the store to the new file `to` while it serves (the
    /// embedded store; PostgreSQL is refused, naming its own tools).
    pub async fn backup(&self, to: &Path) -> Result<(), StoreError> {
        self.store.backup_to(to).await
    }

    /// The host's records under `namespace` (one of [`host_namespace`]).
    pub fn records(&self, namespace: &'static str) -> Records {
        Records::new(self.store.clone(), namespace)
    }

    /// The deployment's own secret (the same on every node, never shown), for keys derived
    /// from it such as the console's CSRF tokens. Empty without a runtime.
    pub(crate) fn deployment_secret(&self) -> &[u8] {
        match &self.over {
            Over::Runtime(r) => r.shared().job_id_key.as_slice(),
            Over::Store { .. } => &[],
        }
    }
}

/// Makes the backup `file` the embedded store of data folder `data`, under the store key
/// `store_key` names (`--store-key`; without one, `DATA/store-key`, which must then exist: a
/// new key would open nothing of the backup). Refused if the backup was made under another
/// key, and while `data` holds a store unless `replace` (that one is moved aside). Weft must
/// not be running on `data`.
pub async fn restore(
    file: &Path,
    data: &Path,
    store_key: Option<&str>,
    replace: bool,
) -> Result<crate::store::backup::Restored, StoreError> {
    if store_key.is_none_or(|k| k.trim().is_empty()) && !data.join("store-key").exists() {
        return Err(StoreError::Config(format!(
            "no store key: give the key the backup was made under (--store-key, WEFT_STORE_KEY) or put its store-key file in {}",
            data.display()
        )));
    }
    let key = crate::seal::StoreKey::resolve(store_key, data, false)
        .map_err(|e| StoreError::Config(e.to_string()))?;
    crate::store::backup::restore(file, data, &key.check_value(), replace).await
}
