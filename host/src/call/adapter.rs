//! A loaded adapter instance: its manifest, its compiled component ready to instantiate, and its
//! capabilities. Every call runs in a fresh instance from the `InstancePre` built at load.

use super::Export;
use super::failure::error_message;
use super::state::{CallState, Purpose};
use crate::bindings::{AdapterWorld, AdapterWorldPre, guest};
use crate::description::AdapterDescription;
use crate::engine::WeftEngine;
use crate::error::ErrorKind;
use crate::http::HttpCapability;
use crate::manifest::Manifest;
use crate::metrics::{Metrics, TokenLabels};
use crate::redact::Redactor;
use crate::store::Store;
use crate::tokens::{FetchedToken, TokenCache, TokenError, TokenFetcher};
use async_trait::async_trait;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use wasmtime::UpdateDeadline;

/// What every adapter of a process shares.
pub struct Shared {
    /// The engine.
    pub engine: WeftEngine,
    /// The linker every adapter is instantiated with.
    pub linker: wasmtime::component::Linker<CallState>,
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// The token cache.
    pub tokens: TokenCache,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Wakes the job workers when a job is enqueued.
    pub jobs_wakeup: tokio::sync::Notify,
    /// Enqueues of the front door, committed together when they arrive together.
    pub(crate) enqueues: crate::jobs::Enqueues,
    /// Kept journals, group-committed; a succeeded attempt's off the call's path.
    pub(crate) journal_writes: crate::journal::Writes,
    /// Calls running right now, so that a drain cut short can say which ones it cut.
    pub in_flight: InFlight,
    /// The deployment's secret for job ids derived from idempotency keys (kept in the store,
    /// the same on every node).
    pub(crate) job_id_key: Vec<u8>,
    /// Where platform exchanges go when this process records them (`weft invoke --record`).
    pub recorder: Option<Arc<crate::http::Recorder>>,
    /// The adapters an operator paused.
    pub pauses: crate::pause::Pauses,
    /// The schedules an operator paused.
    pub schedule_pauses: crate::pause::Pauses,
}

/// The calls running in this process: call id → (adapter, what it runs).
#[derive(Default)]
pub struct InFlight(std::sync::Mutex<std::collections::BTreeMap<u64, (String, String, String)>>);

/// Removes its call from [`InFlight`] when the call ends, however it ends.
pub(crate) struct InFlightGuard<'a>(&'a InFlight, u64);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut calls) = self.0.0.lock() {
            calls.remove(&self.1);
        }
    }
}

impl InFlight {
    /// Records a call until the guard is dropped.
    pub(crate) fn enter(&self, call_id: &str, adapter: &str, what: &str) -> InFlightGuard<'_> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let key = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut calls) = self.0.lock() {
            calls.insert(
                key,
                (call_id.to_string(), adapter.to_string(), what.to_string()),
            );
        }
        InFlightGuard(self, key)
    }

    /// The calls running now, as "adapter what (call id)".
    pub fn list(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|calls| {
                calls
                    .values()
                    .map(|(id, adapter, what)| format!("{adapter} {what} (call {id})"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A loaded, validated adapter instance.
pub struct LoadedAdapter {
    /// The manifest it was loaded from.
    pub manifest: Manifest,
    /// SHA-256 of the manifest file's text.
    pub source_hash: String,
    /// SHA-256 of the component file.
    pub component_hash: String,
    /// When this version was loaded, Unix ms.
    pub loaded_at_ms: i64,
    pub(crate) description: OnceLock<AdapterDescription>,
    pub(crate) pre: AdapterWorldPre<CallState>,
    pub(crate) http: HttpCapability,
    pub(crate) redactor: Redactor,
    pub(crate) credentials: String,
    /// `[config]` as the manifest gives it: what `describe` reads.
    pub(crate) config_given: crate::description::EffectiveConfig,
    /// `[config]` with the adapter's declared defaults: what every later call reads.
    pub(crate) config: OnceLock<crate::description::EffectiveConfig>,
    pub(crate) permits: Arc<Semaphore>,
    /// Calls waiting for a permit right now (bounded by `limits.queue`).
    pub(crate) waiting: Arc<std::sync::atomic::AtomicU32>,
    pub(crate) shared: Arc<Shared>,
}

/// Why a call produced no answer from the adapter.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Timeout, trap, limit or unavailable.
    pub kind: ErrorKind,
    /// What happened, naming the adapter and the limit.
    pub message: String,
}

impl Failure {
    /// An export answered as another would: a host bug, reported as the adapter's trap. Every
    /// caller that narrows an [`Answer`](super::Answer) to its export's says it this way.
    pub(crate) fn wrong_export(adapter: &str) -> Self {
        Self {
            kind: ErrorKind::Trap,
            message: format!("adapter {adapter}: the host called the wrong export"),
        }
    }
}

/// What a finished call left behind besides its result.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Tokens handed out, by scope.
    pub tokens_used: Vec<(String, String)>,
    /// Why the host refused an `http.send` of the call (the allow-list, the request cap).
    pub denied: Option<String>,
    /// Jobs the call enqueued: committed only if the call succeeds.
    pub jobs: Vec<crate::store::NewJob>,
    /// What became of the call's items, as the adapter reported (partial success).
    pub items: crate::items::Tally,
}

/// A fresh instance of an adapter, for one call.
pub(crate) struct Instance {
    pub store: wasmtime::Store<CallState>,
    pub world: AdapterWorld,
}

impl LoadedAdapter {
    /// True if the adapter offers operation `op`.
    pub fn offers(&self, op: &str) -> bool {
        self.description().is_some_and(|d| d.offers(op))
    }

    /// Makes this adapter's jobs (ids, retry budget).
    pub(crate) fn job_owner(&self) -> crate::jobs::Owner<'_> {
        crate::jobs::Owner {
            adapter: &self.manifest.name,
            max_attempts: self.manifest.retry.max_attempts,
            secret: &self.shared.job_id_key,
        }
    }

    /// The description; set at load, before the adapter is published.
    pub fn description(&self) -> Option<&AdapterDescription> {
        self.description.get()
    }

    /// A fresh instance whose CPU, memory and wall-clock budgets are this call's.
    pub(crate) async fn instantiate(
        self: &Arc<Self>,
        purpose: Purpose,
        op: &str,
        deadline: Instant,
    ) -> Result<Instance, Failure> {
        let tick = self.shared.engine.options().epoch_tick;
        let mut store = wasmtime::Store::new(
            self.shared.engine.engine(),
            CallState::new(self.clone(), purpose, op, deadline, tick),
        );
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.cpu_ticks_left == 0 {
                state.cpu_exhausted = true;
                return Err(wasmtime::format_err!("CPU time limit reached"));
            }
            state.cpu_ticks_left -= 1;
            // Yield at every tick so that one busy guest cannot starve the executor.
            Ok(UpdateDeadline::Yield(1))
        });
        let world =
            match tokio::time::timeout_at(deadline.into(), self.pre.instantiate_async(&mut store))
                .await
            {
                Ok(Ok(w)) => w,
                Ok(Err(e)) => return Err(self.classify(&store, e)),
                Err(_) => return Err(self.timeout()),
            };
        Ok(Instance { store, world })
    }

    fn timeout(&self) -> Failure {
        Failure {
            kind: ErrorKind::Timeout,
            message: format!(
                "adapter {} did not finish within limits.timeout ({})",
                self.manifest.name, self.manifest.limits.timeout
            ),
        }
    }

    fn classify(&self, store: &wasmtime::Store<CallState>, e: wasmtime::Error) -> Failure {
        let state = store.data();
        let name = &self.manifest.name;
        if let Some(wanted) = state.limiter.refused {
            return Failure {
                kind: ErrorKind::Limit,
                message: format!(
                    "adapter {name} exceeded limits.memory ({}): it asked for {} bytes in all",
                    self.manifest.limits.memory, wanted
                ),
            };
        }
        if state.limiter.pool_refused {
            let pool = self.shared.engine.memory();
            return Failure {
                kind: ErrorKind::Unavailable,
                message: format!(
                    "adapter {name}: the memory all instances share (--max-memory, {} bytes) is in use by other calls ({} bytes lent): try again shortly",
                    pool.max(),
                    pool.used()
                ),
            };
        }
        if state.cpu_exhausted {
            return Failure {
                kind: ErrorKind::Limit,
                message: format!(
                    "adapter {name} used up limits.cpu_time ({}) in one call",
                    self.manifest.limits.cpu_time
                ),
            };
        }
        let text = state.redactor.scrub(&format!("{e:#}"));
        if text.contains("maximum concurrent") || text.contains("pooling allocator") {
            return Failure {
                kind: ErrorKind::Unavailable,
                message: format!("no instance slot free for adapter {name}: {text}"),
            };
        }
        // A trap message plus the first frames of its wasm backtrace is enough to act on.
        let short: Vec<&str> = text.lines().take(8).collect();
        Failure {
            kind: ErrorKind::Trap,
            message: format!("adapter {name} trapped: {}", short.join(" | ")),
        }
    }

    /// Turns an export call's result into the adapter's answer or a failure.
    pub(crate) fn finish<T>(
        &self,
        store: wasmtime::Store<CallState>,
        result: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<(T, Outcome), Failure> {
        match result {
            Err(_) => Err(self.timeout()),
            Ok(Err(e)) => Err(self.classify(&store, e)),
            Ok(Ok(value)) => {
                let mut state = store.into_data();
                let items = std::mem::take(&mut state.items);
                Ok((
                    value,
                    Outcome {
                        tokens_used: state.tokens_used,
                        denied: state.denied,
                        jobs: state.jobs.jobs,
                        items,
                    },
                ))
            }
        }
    }

    /// Stores the jobs a successful call enqueued, in one transaction; the error says what
    /// could not be stored.
    pub(crate) async fn commit_jobs(&self, jobs: Vec<crate::store::NewJob>) -> Result<(), String> {
        self.shared
            .store
            .job_enqueue_all(&jobs, crate::clock::now_ms())
            .await
            .map_err(|e| {
                format!("the call succeeded but the jobs it enqueued could not be stored: {e}")
            })?;
        self.shared.jobs_wakeup.notify_waiters();
        Ok(())
    }

    /// Calls `describe` in a fresh instance.
    pub(crate) async fn describe(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Result<AdapterDescription, Failure> {
        let called = self
            .call(Export::Describe, &super::fresh_context(), deadline)
            .await?;
        let d = called.answer.description(&self.manifest.name)?;
        Ok(AdapterDescription::from(d))
    }

    /// Calls `fetch-token(scope)` in a fresh instance.
    async fn fetch_token(
        self: &Arc<Self>,
        scope: &str,
        journal: &crate::journal::Journal,
    ) -> Result<FetchedToken, TokenError> {
        let deadline = Instant::now() + self.manifest.token.fetch_timeout.get();
        let outcome = async {
            let called = self
                .call_into(
                    Export::FetchToken { scope },
                    &super::fresh_context(),
                    deadline,
                    journal,
                )
                .await
                .map_err(|f| TokenError::Failed(f.message))?;
            let redactor = called.redactor;
            let answer = called
                .answer
                .grant(&self.manifest.name)
                .map_err(|f| TokenError::Failed(f.message))?;
            if let (Err(_), Some(why)) = (&answer, called.outcome.denied) {
                return Err(TokenError::Denied(redactor.scrub(&why)));
            }
            match answer {
                Ok(grant) => Ok(FetchedToken {
                    token: grant.token,
                    expires_in: grant.expires_in_seconds.map(Duration::from_secs),
                }),
                Err(guest::AdapterError::Auth(m)) => Err(TokenError::Auth(redactor.scrub(&m))),
                Err(guest::AdapterError::Rejected(r)) => {
                    Err(TokenError::Rejected(r.code, redactor.scrub(&r.message)))
                }
                Err(guest::AdapterError::InvalidInput(p)) => {
                    Err(TokenError::Invalid(redactor.scrub(&p.message)))
                }
                Err(guest::AdapterError::Transient(t)) if t.retry_after_ms.is_some() => {
                    Err(TokenError::Throttled(
                        redactor.scrub(&t.message),
                        Duration::from_millis(t.retry_after_ms.unwrap_or_default()),
                    ))
                }
                Err(e) => Err(TokenError::Failed(redactor.scrub(&error_message(&e)))),
            }
        }
        .await;
        let label = match &outcome {
            Ok(_) => "ok",
            Err(TokenError::Auth(_)) => "auth",
            Err(_) => "failed",
        };
        self.shared
            .metrics
            .token_fetches
            .get_or_create(&TokenLabels {
                adapter: self.manifest.name.clone(),
                outcome: label.to_string(),
            })
            .inc();
        outcome
    }
}

/// Runs an adapter's `fetch-token` for the token cache, its exchanges journaled with those of
/// the call that needed the token.
pub(crate) struct ComponentFetcher(Arc<LoadedAdapter>, crate::journal::Journal);

impl ComponentFetcher {
    /// The fetcher for `adapter`, outside any call (its exchanges are not journaled).
    pub(crate) fn new(adapter: Arc<LoadedAdapter>) -> Self {
        Self(adapter, crate::journal::Journal::default())
    }

    /// The fetcher of a call whose journal is `journal`.
    pub(crate) fn for_call(adapter: Arc<LoadedAdapter>, journal: crate::journal::Journal) -> Self {
        Self(adapter, journal)
    }
}

#[async_trait]
impl TokenFetcher for ComponentFetcher {
    async fn fetch(&self, scope: &str) -> Result<FetchedToken, TokenError> {
        self.0.fetch_token(scope, &self.1).await
    }
}
