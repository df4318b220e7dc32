//! Per-call state (`Store<CallState>`) and the linker that lends it to the guest.
//!
//! Each call gets a fresh instance and a fresh `CallState`: nothing leaks between calls. The
//! host side of each imported interface lives with its capability ([`crate::http`],
//! [`crate::tokens`], [`crate::storage`], [`crate::jobs`], [`crate::steps`], [`crate::guest_env`]) and works on a
//! view of this state that holds only what that capability may touch; the linker hands each
//! interface its view. There, the outer `wasmtime::Result` of each function is a trap and the
//! inner `Result` the WIT error the guest sees.

use super::adapter::{ComponentFetcher, LoadedAdapter};
use crate::bindings::{config, digest, http, items, jobs, log, steps, storage, tokens, types};
use crate::digest::DigestView;
use crate::guest_env::{GuestEnv, LogStream};
use crate::http::HttpView;
use crate::jobs::{CallJobs, JobsView};
use crate::redact::SharedRedactor;
use crate::steps::{CallSteps, StepsView};
use crate::storage::StorageView;
use crate::tokens::TokensView;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{HasData, HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Why an instance is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// `describe` at load.
    Describe,
    /// `fetch-token` for the token cache.
    FetchToken,
    /// `invoke`.
    Invoke,
    /// `on-schedule`.
    Schedule,
    /// `handle-inbound`.
    Inbound,
}

/// Memory accounting across all of an instance's linear memories, against the instance's own
/// limit and the process-wide pool every instance draws from.
pub struct MemoryLimiter {
    limit: usize,
    total: usize,
    pool: Arc<crate::engine::MemoryPool>,
    /// Size asked for when the limit refused a growth.
    pub refused: Option<usize>,
    /// True when the process-wide pool (`--max-memory`), not the instance's own limit,
    /// refused a growth.
    pub pool_refused: bool,
}

impl Drop for MemoryLimiter {
    fn drop(&mut self) {
        self.pool.give(self.total);
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.limit {
            self.refused = Some(total);
            return Ok(false);
        }
        let more = total.saturating_sub(self.total);
        if more > 0 && !self.pool.try_take(more) {
            self.pool_refused = true;
            return Ok(false);
        }
        self.pool.give(self.total.saturating_sub(total));
        self.total = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Everything one call's instance may touch.
pub struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Memory accounting.
    pub limiter: MemoryLimiter,
    /// The adapter this instance belongs to.
    pub adapter: Arc<LoadedAdapter>,
    /// Why it runs.
    pub purpose: Purpose,
    /// Operation (or schedule / route name), for logs.
    pub op: String,
    /// When the call must be over.
    pub deadline: Instant,
    /// Epoch ticks of CPU left; at zero the instance traps.
    pub cpu_ticks_left: u64,
    /// True once the CPU budget ran out.
    pub cpu_exhausted: bool,
    /// Tokens handed out during this call, by scope: invalidated if the call ends in `auth`.
    pub tokens_used: Vec<(String, String)>,
    /// Why the host refused this call's last `http.send` (the allow-list, the request cap),
    /// worded to follow the adapter's name in the call's error.
    pub denied: Option<String>,
    /// Secrets and this call's tokens, for scrubbing logs.
    pub redactor: SharedRedactor,
    /// Jobs enqueued by this call, committed if it succeeds.
    pub jobs: CallJobs,
    /// The call's durable steps.
    pub steps: CallSteps,
    /// What became of the call's items (partial success).
    pub items: crate::items::Tally,
    /// The call's exchanges, for the journal.
    pub journal: crate::journal::Journal,
    /// Bytes this call has written through the `log` interface.
    logged_bytes: usize,
    /// Outbound requests this call has sent.
    requests_sent: u32,
    /// Runs the adapter's `fetch-token` for the token cache.
    fetcher: ComponentFetcher,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl CallState {
    /// Fresh state for one instance of `adapter`.
    pub fn new(
        adapter: Arc<LoadedAdapter>,
        purpose: Purpose,
        op: &str,
        deadline: Instant,
        tick: Duration,
    ) -> Self {
        let redactor = SharedRedactor::new(adapter.redactor.clone());
        // Nothing is granted: no preopened directories, no environment, no sockets.
        let wasi = WasiCtxBuilder::new()
            .stdout(LogStream::new(
                &adapter.manifest.name,
                "stdout",
                redactor.clone(),
            ))
            .stderr(LogStream::new(
                &adapter.manifest.name,
                "stderr",
                redactor.clone(),
            ))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let cpu = adapter.manifest.limits.cpu_time.get();
        let cpu_ticks_left = (cpu.as_nanos() / tick.as_nanos().max(1)).max(1) as u64;
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: adapter.manifest.limits.memory.as_usize(),
                total: 0,
                pool: adapter.shared.engine.memory().clone(),
                refused: None,
                pool_refused: false,
            },
            redactor,
            fetcher: ComponentFetcher::new(adapter.clone()),
            adapter,
            purpose,
            op: op.to_string(),
            deadline,
            cpu_ticks_left,
            cpu_exhausted: false,
            tokens_used: Vec::new(),
            denied: None,
            jobs: CallJobs::default(),
            steps: CallSteps::default(),
            items: crate::items::Tally::default(),
            journal: crate::journal::Journal::default(),
            logged_bytes: 0,
            requests_sent: 0,
        }
    }
}

impl types::Host for CallState {}

/// The views each interface gets of the call state.
struct HttpCap;
impl HasData for HttpCap {
    type Data<'a> = HttpView<'a>;
}
struct TokensCap;
impl HasData for TokensCap {
    type Data<'a> = TokensView<'a>;
}
struct StorageCap;
impl HasData for StorageCap {
    type Data<'a> = StorageView<'a>;
}
struct JobsCap;
impl HasData for JobsCap {
    type Data<'a> = JobsView<'a>;
}
struct EnvCap;
impl HasData for EnvCap {
    type Data<'a> = GuestEnv<'a>;
}
struct StepsCap;
impl HasData for StepsCap {
    type Data<'a> = StepsView<'a>;
}
struct ItemsCap;
impl HasData for ItemsCap {
    type Data<'a> = crate::items::ItemsView<'a>;
}
struct DigestCap;
impl HasData for DigestCap {
    type Data<'a> = DigestView;
}

impl CallState {
    /// Gathers this call's exchanges, and those of the token fetches it causes, in `journal`.
    pub(crate) fn journal_into(&mut self, journal: crate::journal::Journal) {
        self.fetcher = ComponentFetcher::for_call(self.adapter.clone(), journal.clone());
        self.journal = journal;
    }

    fn http(&mut self) -> HttpView<'_> {
        let adapter = &*self.adapter;
        HttpView {
            http: &adapter.http,
            manifest: &adapter.manifest,
            store: adapter.shared.store.as_ref(),
            recorder: adapter.shared.recorder.as_deref(),
            fetching_token: self.purpose == Purpose::FetchToken,
            deadline: self.deadline,
            redactor: &self.redactor,
            denied: &mut self.denied,
            sent: &mut self.requests_sent,
            steps: &mut self.steps,
            journal: &self.journal,
        }
    }

    fn steps(&mut self) -> StepsView<'_> {
        let adapter = &*self.adapter;
        StepsView {
            store: adapter.shared.store.as_ref(),
            adapter: &adapter.manifest.name,
            steps: &mut self.steps,
        }
    }

    fn items(&mut self) -> crate::items::ItemsView<'_> {
        crate::items::ItemsView {
            items: &mut self.items,
            redactor: &self.redactor,
        }
    }

    fn tokens(&mut self) -> TokensView<'_> {
        let adapter = &*self.adapter;
        TokensView {
            cache: &adapter.shared.tokens,
            adapter: &adapter.manifest.name,
            credentials: &adapter.credentials,
            policy: &adapter.manifest.token,
            fetcher: &self.fetcher,
            fetching: self.purpose == Purpose::FetchToken,
            deadline: self.deadline,
            used: &mut self.tokens_used,
            denied: &mut self.denied,
            redactor: &self.redactor,
        }
    }

    fn storage(&mut self) -> StorageView<'_> {
        let adapter = &*self.adapter;
        StorageView {
            store: adapter.shared.store.as_ref(),
            namespace: &adapter.manifest.name,
            limits: &adapter.manifest.limits,
        }
    }

    fn jobs(&mut self) -> JobsView<'_> {
        let adapter = &*self.adapter;
        JobsView {
            call: &mut self.jobs,
            manifest: &adapter.manifest,
            description: adapter.description(),
            secret: &adapter.shared.job_id_key,
        }
    }

    fn env(&mut self) -> GuestEnv<'_> {
        let adapter = &*self.adapter;
        GuestEnv {
            manifest: &adapter.manifest,
            config: adapter.config.get().unwrap_or(&adapter.config_given),
            op: &self.op,
            redactor: &self.redactor,
            logged: &mut self.logged_bytes,
        }
    }
}

/// The linker every adapter is instantiated with: WASI (nothing granted, see
/// [`CallState::new`]) and each `weft:adapter` interface bound to its capability's view.
pub fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    types::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |s| s)?;
    http::add_to_linker::<CallState, HttpCap>(&mut linker, CallState::http)?;
    tokens::add_to_linker::<CallState, TokensCap>(&mut linker, CallState::tokens)?;
    storage::add_to_linker::<CallState, StorageCap>(&mut linker, CallState::storage)?;
    jobs::add_to_linker::<CallState, JobsCap>(&mut linker, CallState::jobs)?;
    steps::add_to_linker::<CallState, StepsCap>(&mut linker, CallState::steps)?;
    items::add_to_linker::<CallState, ItemsCap>(&mut linker, CallState::items)?;
    config::add_to_linker::<CallState, EnvCap>(&mut linker, CallState::env)?;
    log::add_to_linker::<CallState, EnvCap>(&mut linker, CallState::env)?;
    digest::add_to_linker::<CallState, DigestCap>(&mut linker, |_| DigestView)?;
    Ok(linker)
}
