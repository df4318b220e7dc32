//! Per-call state (`Store<CallState>`) and the host side of every imported interface.
//!
//! Each call gets a fresh instance and a fresh `CallState`: nothing leaks between calls. The
//! outer `wasmtime::Result` of each function is a trap; the inner `Result` is the WIT error the
//! guest sees.

use crate::adapter::LoadedAdapter;
use crate::bindings::{config, http, jobs, log, storage, tokens, types};
use crate::guest_output::LogStream;
use crate::http::{HttpError, OutboundRequest};
use crate::redact::SharedRedactor;
use crate::tokens::{TokenError, TokenKey};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Longest storage key.
const MAX_KEY: usize = 512;
/// Most keys one `list-keys` returns.
const MAX_LIST: u32 = 1000;

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

/// Memory accounting across all of an instance's linear memories.
pub struct MemoryLimiter {
    limit: usize,
    total: usize,
    /// Size asked for when the limit refused a growth.
    pub refused: Option<usize>,
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
    /// The last `http.send` refused by the allow-list.
    pub denied: Option<String>,
    /// Secrets and this call's tokens, for scrubbing logs.
    pub redactor: SharedRedactor,
    /// Jobs enqueued by this call, committed if it succeeds.
    pub jobs: Vec<crate::store::NewJob>,
    /// Bytes of the inputs in `jobs`.
    jobs_bytes: usize,
    /// Bytes this call has written through the `log` interface.
    logged_bytes: usize,
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
                refused: None,
            },
            redactor,
            adapter,
            purpose,
            op: op.to_string(),
            deadline,
            cpu_ticks_left,
            cpu_exhausted: false,
            tokens_used: Vec::new(),
            denied: None,
            jobs: Vec::new(),
            jobs_bytes: 0,
            logged_bytes: 0,
        }
    }
}

impl types::Host for CallState {}

impl CallState {
    /// This call's outbound budget: `limits.rate`, or `limits.token_rate` inside `fetch-token`.
    fn rate_budget(&self) -> Option<RateBudget> {
        let limits = &self.adapter.manifest.limits;
        let (rate, which) = match self.purpose {
            Purpose::FetchToken => (limits.token_rate?, "limits.token_rate"),
            _ => (limits.rate?, "limits.rate"),
        };
        Some(RateBudget {
            store: self.adapter.shared.store.clone(),
            key: format!("{}\u{1f}{which}", self.adapter.manifest.name),
            rate,
            which,
            deadline: self.deadline,
        })
    }
}

/// A rate budget to wait for, detached from the call state so the wait can cross an await.
struct RateBudget {
    store: Arc<dyn crate::store::Store>,
    key: String,
    rate: crate::manifest::Rate,
    which: &'static str,
    deadline: Instant,
}

impl RateBudget {
    /// Waits for the next slot, shared through the store by every process.
    async fn wait(self) -> Result<(), http::HttpError> {
        let interval = i64::try_from(self.rate.interval().as_millis()).unwrap_or(i64::MAX);
        let now = crate::jobs::now_ms();
        let slot = self
            .store
            .rate_acquire(&self.key, interval, now)
            .await
            .map_err(|e| http::HttpError::Connect(format!("rate budget unavailable: {e}")))?;
        let wait = Duration::from_millis(u64::try_from(slot - now).unwrap_or(0));
        if Instant::now() + wait > self.deadline {
            return Err(http::HttpError::Timeout(format!(
                "{} ({}) has no slot before the call's deadline (next in {} ms)",
                self.which,
                self.rate,
                wait.as_millis()
            )));
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

impl http::Host for CallState {
    async fn send(
        &mut self,
        req: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        let method = match req.method {
            http::Method::Get => reqwest::Method::GET,
            http::Method::Post => reqwest::Method::POST,
            http::Method::Put => reqwest::Method::PUT,
            http::Method::Patch => reqwest::Method::PATCH,
            http::Method::Delete => reqwest::Method::DELETE,
            http::Method::Head => reqwest::Method::HEAD,
        };
        let outbound = OutboundRequest {
            method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            timeout: req
                .timeout_ms
                .map(|ms| Duration::from_millis(u64::from(ms))),
        };
        if let Some(budget) = self.rate_budget()
            && let Err(e) = budget.wait().await
        {
            return Ok(Err(e));
        }
        let copy = self
            .adapter
            .shared
            .recorder
            .as_ref()
            .map(|_| outbound.clone());
        let result = self
            .adapter
            .http
            .send(outbound, self.deadline, &self.redactor.snapshot())
            .instrument(tracing::info_span!("host http.send"))
            .await;
        if let (Some(recorder), Some(sent)) = (&self.adapter.shared.recorder, copy) {
            recorder.push(crate::record::Recorded {
                token_fetch: matches!(self.purpose, Purpose::FetchToken),
                method: sent.method.to_string(),
                content_type: sent
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.clone()),
                url: sent.url,
                body: sent.body,
                answer: result.clone().map_err(|e| e.to_string()),
            });
        }
        Ok(match result {
            Ok(r) => Ok(http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            }),
            Err(e) => Err(match e {
                HttpError::Denied(m) => {
                    self.denied = Some(m.clone());
                    http::HttpError::Denied(m)
                }
                HttpError::Timeout(m) => http::HttpError::Timeout(m),
                HttpError::Connect(m) => http::HttpError::Connect(m),
                HttpError::TooLarge(m) => http::HttpError::TooLarge(m),
                HttpError::InvalidRequest(m) => http::HttpError::InvalidRequest(m),
            }),
        })
    }
}

impl tokens::Host for CallState {
    async fn get(&mut self, scope: String) -> wasmtime::Result<Result<String, tokens::TokenError>> {
        if self.purpose == Purpose::FetchToken {
            return Ok(Err(tokens::TokenError::Unavailable(
                "tokens.get cannot be called from fetch-token".into(),
            )));
        }
        let adapter = self.adapter.clone();
        let key = TokenKey {
            adapter: &adapter.manifest.name,
            scope: &scope,
            credentials: &adapter.credentials,
        };
        let fetcher = crate::adapter::ComponentFetcher::new(adapter.clone());
        let result = adapter
            .shared
            .tokens
            .get(key, &adapter.manifest.token, &fetcher, self.deadline)
            .instrument(tracing::info_span!("host tokens.get", scope = %scope))
            .await;
        Ok(match result {
            Ok(token) => {
                self.redactor.add(&token);
                self.tokens_used.push((scope, token.clone()));
                Ok(token)
            }
            Err(e) => Err(match e {
                TokenError::Auth(m) => {
                    tokens::TokenError::FetchFailed(types::AdapterError::Auth(m))
                }
                TokenError::Rejected(code, message) => tokens::TokenError::FetchFailed(
                    types::AdapterError::Rejected(types::Rejection {
                        code,
                        message,
                        details: Vec::new(),
                        conflict: false,
                    }),
                ),
                TokenError::Invalid(message) => tokens::TokenError::FetchFailed(
                    types::AdapterError::InvalidInput(types::InputProblem {
                        message: format!("fetch-token: {message}"),
                        details: Vec::new(),
                    }),
                ),
                TokenError::Failed(message) => tokens::TokenError::FetchFailed(
                    types::AdapterError::Transient(types::TransientFailure {
                        message,
                        code: Some("token".into()),
                        retry_after_ms: None,
                    }),
                ),
                TokenError::Denied(m) => {
                    // The denial happened in fetch-token's instance; it explains this call too.
                    self.denied = Some(m.clone());
                    tokens::TokenError::Denied(m)
                }
                TokenError::Throttled(message, d) => tokens::TokenError::FetchFailed(
                    types::AdapterError::Transient(types::TransientFailure {
                        message,
                        code: Some("token-throttled".into()),
                        retry_after_ms: Some(d.as_millis() as u64),
                    }),
                ),
                TokenError::RateLimited(d) => tokens::TokenError::RateLimited(d.as_millis() as u64),
                TokenError::Unavailable(m) => tokens::TokenError::Unavailable(m),
            }),
        })
    }

    async fn invalidate(&mut self, scope: String, rejected: String) -> wasmtime::Result<()> {
        let adapter = self.adapter.clone();
        adapter
            .shared
            .tokens
            .invalidate(&adapter.manifest.name, &scope, &rejected)
            .await;
        Ok(())
    }
}

fn check_key(key: &str) -> Result<(), storage::StorageError> {
    if key.contains('\0') {
        return Err(storage::StorageError::InvalidKey(
            "keys must not contain NUL".into(),
        ));
    }
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(storage::StorageError::InvalidKey(format!(
            "keys are 1 to {MAX_KEY} bytes, found {} bytes",
            key.len()
        )));
    }
    Ok(())
}

impl CallState {
    fn check_value(&self, value: &[u8]) -> Result<(), storage::StorageError> {
        let max = self.adapter.manifest.limits.storage_value;
        if value.len() as u64 > max.bytes() {
            return Err(storage::StorageError::TooLarge(format!(
                "value of {} bytes exceeds limits.storage_value ({max})",
                value.len()
            )));
        }
        Ok(())
    }

    fn ns(&self) -> &str {
        &self.adapter.manifest.name
    }

    /// Refuses a write of `value` to `key` that would take the adapter past `limits.storage`
    /// or `limits.storage_keys`. Writers racing on other nodes may each pass the check, so the
    /// quota can be overshot by at most one value per concurrent writer: a bound, not a leak.
    /// (An associated function on the adapter alone: the future must be `Send`, and the
    /// call state is not `Sync`.)
    async fn check_quota(
        adapter: &LoadedAdapter,
        key: &str,
        value: &[u8],
    ) -> Result<(), storage::StorageError> {
        let limits = &adapter.manifest.limits;
        let usage = adapter
            .shared
            .store
            .kv_usage(&adapter.manifest.name, key)
            .await
            .map_err(unavailable)?;
        let keys = usage.keys + u64::from(usage.existing.is_none());
        let bytes = (usage.bytes - usage.existing.unwrap_or(0).min(usage.bytes))
            .saturating_add((key.len() + value.len()) as u64);
        if keys > limits.storage_keys {
            return Err(storage::StorageError::TooLarge(format!(
                "storage is full: the adapter holds {} keys, limits.storage_keys is {}",
                usage.keys, limits.storage_keys
            )));
        }
        if bytes > limits.storage.bytes() {
            return Err(storage::StorageError::TooLarge(format!(
                "storage is full: this write would bring the adapter to {bytes} bytes, limits.storage is {}",
                limits.storage
            )));
        }
        Ok(())
    }
}

fn unavailable(e: crate::store::StoreError) -> storage::StorageError {
    storage::StorageError::Unavailable(e.to_string())
}

impl storage::Host for CallState {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, storage::StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self
            .adapter
            .shared
            .store
            .kv_get(self.ns(), &key)
            .instrument(tracing::info_span!("host storage.get"))
            .await
            .map_err(unavailable))
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), storage::StorageError>> {
        if let Err(e) = check_key(&key).and_then(|()| self.check_value(&value)) {
            return Ok(Err(e));
        }
        if let Err(e) = Self::check_quota(&self.adapter, &key, &value).await {
            return Ok(Err(e));
        }
        Ok(self
            .adapter
            .shared
            .store
            .kv_set(self.ns(), &key, &value)
            .instrument(tracing::info_span!("host storage.set"))
            .await
            .map_err(unavailable))
    }

    async fn delete(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<bool, storage::StorageError>> {
        if let Err(e) = check_key(&key) {
            return Ok(Err(e));
        }
        Ok(self
            .adapter
            .shared
            .store
            .kv_delete(self.ns(), &key)
            .instrument(tracing::info_span!("host storage.delete"))
            .await
            .map_err(unavailable))
    }

    async fn list_keys(
        &mut self,
        prefix: String,
        start_after: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, storage::StorageError>> {
        if prefix.len() > MAX_KEY {
            return Ok(Err(storage::StorageError::InvalidKey(format!(
                "prefix longer than {MAX_KEY} bytes"
            ))));
        }
        Ok(self
            .adapter
            .shared
            .store
            .kv_list(
                self.ns(),
                &prefix,
                start_after.as_deref(),
                limit.min(MAX_LIST),
            )
            .instrument(tracing::info_span!("host storage.list-keys"))
            .await
            .map_err(unavailable))
    }

    async fn compare_and_swap(
        &mut self,
        key: String,
        expected: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) -> wasmtime::Result<Result<bool, storage::StorageError>> {
        if let Err(e) =
            check_key(&key).and_then(|()| new.as_deref().map_or(Ok(()), |v| self.check_value(v)))
        {
            return Ok(Err(e));
        }
        if let Some(v) = &new
            && let Err(e) = Self::check_quota(&self.adapter, &key, v).await
        {
            return Ok(Err(e));
        }
        Ok(self
            .adapter
            .shared
            .store
            .kv_cas(self.ns(), &key, expected.as_deref(), new.as_deref())
            .instrument(tracing::info_span!("host storage.compare-and-swap"))
            .await
            .map_err(unavailable))
    }
}

/// Jobs one call may enqueue.
const MAX_JOBS_PER_CALL: usize = 1000;
/// Bytes of job inputs one call may hold until it ends (they are kept in the host's memory
/// until the call succeeds and commits them).
pub const MAX_JOB_BYTES_PER_CALL: usize = 64 * 1024 * 1024;
/// Longest `log` message (longer ones are cut).
pub const MAX_LOG_MESSAGE: usize = 4096;
/// Bytes one call may log through the `log` interface; past it, lines are dropped.
pub const MAX_LOG_BYTES_PER_CALL: usize = 256 * 1024;
/// Longest delay of an enqueued job.
const MAX_DELAY_MS: u64 = 30 * 24 * 3600 * 1000;

impl jobs::Host for CallState {
    async fn enqueue(
        &mut self,
        op: String,
        input: String,
        delay_ms: u64,
        idempotency_key: Option<String>,
    ) -> wasmtime::Result<Result<String, jobs::JobError>> {
        let known = self
            .adapter
            .description()
            .is_some_and(|d| d.operations.iter().any(|o| o.name == op));
        if !known {
            return Ok(Err(jobs::JobError::Invalid(format!(
                "this adapter has no operation {op:?}"
            ))));
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&input) {
            return Ok(Err(jobs::JobError::Invalid(format!(
                "input is not JSON: {e}"
            ))));
        }
        if delay_ms > MAX_DELAY_MS {
            return Ok(Err(jobs::JobError::Invalid(format!(
                "delay of {delay_ms} ms exceeds 30 days"
            ))));
        }
        if self.jobs.len() >= MAX_JOBS_PER_CALL {
            return Ok(Err(jobs::JobError::Limit(format!(
                "one call may enqueue at most {MAX_JOBS_PER_CALL} jobs"
            ))));
        }
        if input.len() as u64 > self.adapter.manifest.limits.request_body.bytes() {
            return Ok(Err(jobs::JobError::Invalid(format!(
                "input of {} bytes exceeds limits.request_body ({})",
                input.len(),
                self.adapter.manifest.limits.request_body
            ))));
        }
        if self.jobs_bytes.saturating_add(input.len()) > MAX_JOB_BYTES_PER_CALL {
            return Ok(Err(jobs::JobError::Limit(format!(
                "the jobs one call enqueues may hold at most {} MiB of input",
                MAX_JOB_BYTES_PER_CALL >> 20
            ))));
        }
        self.jobs_bytes += input.len();
        let job = crate::jobs::new_job(
            &self.adapter,
            &op,
            input,
            idempotency_key,
            Duration::from_millis(delay_ms),
        );
        let id = job.id.clone();
        self.jobs.push(job);
        Ok(Ok(id))
    }
}

impl config::Host for CallState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.adapter.manifest.config.get(&key).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }))
    }

    async fn all(&mut self) -> wasmtime::Result<String> {
        Ok(self.adapter.config_json.clone())
    }

    async fn secret(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self
            .adapter
            .manifest
            .secrets
            .get(&name)
            .map(|s| s.expose().to_string()))
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl log::Host for CallState {
    async fn write(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        let before = self.logged_bytes;
        self.logged_bytes = before.saturating_add(size);
        if before >= MAX_LOG_BYTES_PER_CALL {
            return Ok(());
        }
        if self.logged_bytes >= MAX_LOG_BYTES_PER_CALL {
            tracing::warn!(adapter = %self.ns(), op = %self.op, "log lines past {MAX_LOG_BYTES_PER_CALL} bytes in one call are dropped");
        }
        // Scrubbed before it is cut: a cut through a secret would leave part of it unmatched.
        let message = self.redactor.scrub(&message);
        let message = cut(&message, MAX_LOG_MESSAGE);
        let fields: Vec<String> = fields
            .iter()
            .take(32)
            .map(|(k, v)| format!("{}={}", cut(k, 64), cut(&self.redactor.scrub(v), 1024)))
            .collect();
        let fields = fields.join(" ");
        let adapter = self.ns();
        let op = self.op.as_str();
        match level {
            log::Level::Trace => tracing::trace!(adapter, op, fields, "{message}"),
            log::Level::Debug => tracing::debug!(adapter, op, fields, "{message}"),
            log::Level::Info => tracing::info!(adapter, op, fields, "{message}"),
            log::Level::Warn => tracing::warn!(adapter, op, fields, "{message}"),
            log::Level::Error => tracing::error!(adapter, op, fields, "{message}"),
        }
        Ok(())
    }
}
