//! The host as a library: open the store and the engine, load the manifests, run operations.

use crate::call::{CallOptions, LoadedAdapter, Shared};
use crate::engine::{EngineError, EngineOptions, WeftEngine};
use crate::error::{ErrorKind, InvokeError};
use crate::jobs::JobRequest;
use crate::metrics::Metrics;
use crate::registry::{AdapterStatus, Registry};
use crate::seal::StoreKey;
use crate::store::Enqueued;
use crate::store::{Store, StoreError};
use crate::tokens::TokenCache;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where a runtime finds its manifests and keeps its data.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Folder of `*.toml` manifests.
    pub manifests: PathBuf,
    /// Data folder: the SQLite store and the compiled-component cache.
    pub data: PathBuf,
    /// Engine settings (its `cache_dir` defaults to `DATA/cache`).
    pub engine: EngineOptions,
    /// The store: `None` or "sqlite" for the embedded default, or a `postgres://` URL.
    pub store: Option<String>,
    /// The store key (`env:NAME`, `file:PATH` or the key itself); `None`: the embedded store
    /// keeps its own in `DATA/store-key`, a shared store is refused.
    pub store_key: Option<String>,
    /// Record every platform exchange (for `weft invoke --record`).
    pub record: bool,
}

/// Why a runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The engine could not be built.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The store key is missing, malformed, or not the one the store was set up with.
    #[error(transparent)]
    Key(#[from] crate::seal::SealError),
}

/// A running Weft host.
pub struct Runtime {
    shared: Arc<Shared>,
    registry: Registry,
    options: RuntimeOptions,
    reloading: tokio::sync::Mutex<()>,
}

impl Runtime {
    /// Opens the store and engine and loads every manifest (failures are kept in status).
    pub async fn open(options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let store = crate::store::open(options.store.as_deref(), &options.data).await?;
        Self::with_store(options, store).await
    }

    /// Like [`Runtime::open`], with a store of the caller's choosing.
    pub async fn with_store(
        mut options: RuntimeOptions,
        store: Arc<dyn Store>,
    ) -> Result<Self, RuntimeError> {
        if options.engine.cache_dir.is_none() {
            options.engine.cache_dir = Some(options.data.join("cache"));
        }
        let shared_store = options
            .store
            .as_deref()
            .is_some_and(|s| s.starts_with("postgres"));
        let key_file = options.data.join("store-key");
        if !shared_store
            && options
                .store_key
                .as_deref()
                .is_none_or(|k| k.trim().is_empty())
            && !key_file.exists()
            && crate::store::store_key_recorded(store.as_ref()).await?
        {
            // Making a new key here would seal nothing the store holds open again, and the
            // check below would then blame the key instead of the missing file.
            return Err(crate::seal::SealError::Key(format!(
                "the store key file {} is missing, but this store was set up with a key: restore that file (from a backup of the data folder), or give the key with --store-key",
                key_file.display()
            ))
            .into());
        }
        let key = StoreKey::resolve(options.store_key.as_deref(), &options.data, shared_store)?;
        crate::store::check_store_key(store.as_ref(), &key.check_value()).await?;
        if options.engine.cache_key.is_none() {
            options.engine.cache_key = Some(key.clone());
        }
        let engine = WeftEngine::new(options.engine.clone())?;
        let linker = crate::call::linker(engine.engine())
            .map_err(|e| EngineError::Config(format!("{e:#}")))?;
        let job_id_key = crate::store::deployment_secret(store.as_ref(), "job-id-key").await?;
        let pauses = crate::pause::Pauses::new(store.clone());
        let schedule_pauses = crate::pause::Pauses::of_schedules(store.clone());
        let shared = Arc::new(Shared {
            engine,
            linker,
            tokens: TokenCache::new(store.clone(), key),
            store,
            metrics: Arc::new(Metrics::default()),
            jobs_wakeup: tokio::sync::Notify::new(),
            enqueues: crate::jobs::Enqueues::default(),
            journal_writes: crate::journal::Writes::default(),
            in_flight: crate::call::InFlight::default(),
            job_id_key,
            recorder: options
                .record
                .then(|| Arc::new(crate::http::Recorder::default())),
            pauses,
            schedule_pauses,
        });
        let runtime = Self {
            shared,
            registry: Registry::default(),
            options,
            reloading: tokio::sync::Mutex::new(()),
        };
        runtime.reload().await;
        Ok(runtime)
    }

    /// Re-reads every manifest and swaps the result in (`force`: reload even what is unchanged,
    /// e.g. after environment variables or secret files changed).
    pub async fn reload_with(&self, force: bool) -> crate::registry::ReloadChanges {
        let _one_at_a_time = self.reloading.lock().await;
        let env = |name: &str| std::env::var(name).ok();
        self.registry
            .load_dir(&self.shared, &self.options.manifests, &env, force)
            .await
    }

    /// Fetches, in the background, the token of every adapter whose manifest says
    /// `token.refresh_at_startup` (scope "").
    pub fn refresh_tokens_at_startup(&self) {
        for name in self.registry.names() {
            let Some(adapter) = self.registry.get(&name) else {
                continue;
            };
            if !adapter.manifest.token.refresh_at_startup {
                continue;
            }
            tokio::spawn(async move {
                let fetcher = crate::call::ComponentFetcher::new(adapter.clone());
                let key = crate::tokens::TokenKey {
                    adapter: &adapter.manifest.name,
                    scope: "",
                    credentials: &adapter.credentials,
                };
                let deadline =
                    std::time::Instant::now() + adapter.manifest.token.fetch_timeout.get() * 3;
                if let Err(e) = adapter
                    .shared
                    .tokens
                    .get(key, &adapter.manifest.token, &fetcher, deadline)
                    .await
                {
                    tracing::warn!(adapter = %adapter.manifest.name, "token refresh at start-up failed: {e}");
                }
            });
        }
    }

    /// A full rescan: every manifest is loaded again.
    pub async fn reload(&self) -> crate::registry::ReloadChanges {
        self.reload_with(true).await
    }

    /// The manifests folder.
    pub fn manifests_dir(&self) -> &std::path::Path {
        &self.options.manifests
    }

    /// Runs `op` of adapter `adapter` with JSON `input`.
    pub async fn invoke(
        &self,
        adapter: &str,
        op: &str,
        input: &str,
        options: CallOptions,
    ) -> Result<String, InvokeError> {
        let loaded = self.adapter(adapter, op)?;
        if let Some(p) = self.shared().pauses.get(adapter).await
            && p.refuse_calls
        {
            return Err(InvokeError::new(
                ErrorKind::Unavailable,
                adapter,
                op,
                format!(
                    "adapter {adapter} is paused (since {}): an operator stopped its calls; POST /v1/adapters/{adapter}/resume starts them again",
                    crate::clock::rfc3339(p.since_ms)
                ),
            ));
        }
        loaded.invoke(op, input, options).await
    }

    /// The loaded adapter called `adapter`, or the error a caller of `op` should see.
    // The error is the caller's whole answer on a cold path; boxing it would buy nothing.
    #[allow(clippy::result_large_err)]
    pub fn adapter(&self, adapter: &str, op: &str) -> Result<Arc<LoadedAdapter>, InvokeError> {
        let Some(loaded) = self.registry.get(adapter) else {
            let failed = self
                .registry
                .failures()
                .into_iter()
                .find(|f| f.file.file_stem().is_some_and(|s| s == adapter));
            return Err(match failed {
                Some(f) => InvokeError::new(
                    ErrorKind::Unavailable,
                    adapter,
                    op,
                    format!("adapter {adapter} failed to load: {f}"),
                ),
                None => InvokeError::new(
                    ErrorKind::NotFound,
                    adapter,
                    op,
                    format!(
                        "no adapter named {adapter:?} (loaded: {})",
                        self.registry.names().join(", ")
                    ),
                ),
            });
        };
        Ok(loaded)
    }

    /// What every adapter shares (store, tokens, engine, metrics).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Status of every manifest.
    pub fn adapters(&self) -> Vec<AdapterStatus> {
        self.registry.status()
    }

    /// The manifests that failed to load, with their errors.
    pub fn load_errors(&self) -> Vec<crate::manifest::ManifestError> {
        self.registry.failures()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The metrics registry, to keep (the front door's middleware records into it).
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// The token values cached for `adapter` now, so that what shows a call's result can
    /// scrub them.
    pub fn cached_tokens(&self, adapter: &str) -> Vec<String> {
        self.shared.tokens.cached_tokens(adapter)
    }

    /// The health of `adapter`'s token (for the console's tokens page).
    pub fn token_health(&self, adapter: &str) -> Vec<crate::tokens::TokenHealth> {
        self.shared.tokens.health(adapter)
    }

    /// The platform exchanges recorded since the last take (`weft invoke --record`); empty
    /// when this runtime does not record.
    pub fn take_recorded(&self) -> Vec<crate::http::Recorded> {
        self.shared
            .recorder
            .as_ref()
            .map(|r| r.take())
            .unwrap_or_default()
    }

    /// The loaded adapters.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// The job operations of the front door and the CLI.
impl Runtime {
    /// Enqueues `op` of `adapter` as a durable job. With an idempotency key, the same key and
    /// request return the same job; the same key with another request is a `conflict`.
    pub async fn enqueue(
        &self,
        adapter: &str,
        op: &str,
        input: &str,
        idempotency_key: Option<String>,
        delay: Duration,
    ) -> Result<Enqueued, InvokeError> {
        let loaded = self.adapter(adapter, op)?;
        let err = |kind, message: String| InvokeError::new(kind, adapter, op, message);
        let request = JobRequest {
            op: op.to_string(),
            input: input.to_string(),
            idempotency_key,
            delay,
        };
        let job = checked_job(&loaded, request, "")?;
        let result = self
            .shared()
            .enqueues
            .commit(&self.shared().store, job)
            .await
            .map_err(|e| {
                err(
                    ErrorKind::Unavailable,
                    format!("the job could not be stored: {e}"),
                )
            })?;
        if let Enqueued::KeyConflict(id) = &result {
            return Err(err(
                ErrorKind::Conflict,
                format!("idempotency key already used for another request (job {id})"),
            ));
        }
        self.shared().jobs_wakeup.notify_waiters();
        Ok(result)
    }

    /// Enqueues every job of `batch` for `adapter` in one transaction: all are stored, or none
    /// (a store failure). Each is checked first as [`Runtime::enqueue`] checks one, and one that
    /// fails refuses the whole batch, naming its place. A keyed job is new, the existing job of
    /// the same key and request, or a conflict (another request under the key; not enqueued):
    /// the answer says which, for each job in order.
    pub async fn enqueue_batch(
        &self,
        adapter: &str,
        batch: Vec<JobRequest>,
    ) -> Result<Vec<Enqueued>, InvokeError> {
        let first = batch.first().map(|j| j.op.clone()).unwrap_or_default();
        let first = first.as_str();
        let loaded = self.adapter(adapter, first)?;
        let mut jobs = Vec::with_capacity(batch.len());
        for (i, request) in batch.into_iter().enumerate() {
            jobs.push(checked_job(&loaded, request, &format!("jobs[{i}]: "))?);
        }
        let store = &self.shared().store;
        let result = store
            .job_enqueue_many(&jobs, crate::clock::now_ms())
            .await
            .map_err(|e| {
                InvokeError::new(
                    ErrorKind::Unavailable,
                    adapter,
                    first,
                    format!("the jobs could not be stored: {e}"),
                )
            })?;
        self.shared().jobs_wakeup.notify_waiters();
        Ok(result)
    }
}

/// The job `request` makes for `loaded`, once checked as every enqueue is: the operation exists,
/// the input is JSON and fits `limits.request_body`. `place` starts each message (a batch names
/// the job's index).
// The same error type as every enqueue answers; it is built once per refusal, not per job.
#[allow(clippy::result_large_err)]
fn checked_job(
    loaded: &LoadedAdapter,
    request: JobRequest,
    place: &str,
) -> Result<crate::store::NewJob, InvokeError> {
    let (adapter, op) = (loaded.manifest.name.as_str(), request.op.as_str());
    crate::jobs::check(&loaded.manifest, loaded.description(), op, &request.input).map_err(
        |refused| {
            InvokeError::new(
                refused.kind,
                adapter,
                op,
                format!("{place}{}", refused.message),
            )
        },
    )?;
    Ok(loaded
        .job_owner()
        .job(op, request.input, request.idempotency_key, request.delay))
}
