//! Running one operation: input checks, the concurrency permit, the call in a fresh instance,
//! one token refresh on `auth`, and backoff on `transient`, all inside the call's deadline.

use crate::adapter::LoadedAdapter;
use crate::bindings::{guest, types};
use crate::error::{Detail, ErrorKind, InvokeError};
use crate::metrics::{CallLabels, ErrorLabels};
use crate::state::Purpose;
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of one call.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Identifier passed to the adapter (a new UUID when absent).
    pub call_id: Option<String>,
    /// The job this call runs for.
    pub job_id: Option<String>,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// The first attempt's number (jobs continue counting across runs).
    pub first_attempt: Option<u32>,
    /// A deadline earlier than `limits.timeout`, e.g. the front door's.
    pub deadline: Option<Instant>,
    /// Attempts for transient failures inside this call (default `retry.max_attempts`); jobs
    /// use 1, since the queue retries them itself with its own backoff.
    pub max_attempts: Option<u32>,
}

/// The message of a WIT adapter error, with the platform code where there is one.
pub(crate) fn error_message(e: &guest::AdapterError) -> String {
    match e {
        types::AdapterError::InvalidInput(p) => p.message.clone(),
        types::AdapterError::Rejected(r) => format!("{} (platform code {})", r.message, r.code),
        types::AdapterError::Auth(m) => m.clone(),
        types::AdapterError::Transient(t) => t.message.clone(),
    }
}

fn details(list: &[types::Detail]) -> Vec<Detail> {
    list.iter()
        .map(|d| Detail {
            index: d.index,
            field: d.field.clone(),
            code: d.code.clone(),
            message: d.message.clone(),
        })
        .collect()
}

impl LoadedAdapter {
    /// Runs `op` with JSON `input`, answering the adapter's JSON output.
    pub async fn invoke(
        self: &Arc<Self>,
        op: &str,
        input: &str,
        options: CallOptions,
    ) -> Result<String, InvokeError> {
        let started = Instant::now();
        let result = self.invoke_inner(op, input, options, started).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind.as_str(),
        };
        let labels = CallLabels {
            adapter: self.manifest.name.clone(),
            op: op.to_string(),
            outcome: outcome.to_string(),
        };
        let metrics = &self.shared.metrics;
        metrics.invocations.get_or_create(&labels).inc();
        metrics
            .invocation_seconds
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            metrics
                .errors
                .get_or_create(&ErrorLabels {
                    adapter: self.manifest.name.clone(),
                    kind: e.kind.as_str().to_string(),
                })
                .inc();
            tracing::warn!(adapter = %self.manifest.name, op, kind = %e.kind, attempts = e.attempts, "call failed: {}", e.message);
        }
        result
    }

    async fn invoke_inner(
        self: &Arc<Self>,
        op: &str,
        input: &str,
        options: CallOptions,
        started: Instant,
    ) -> Result<String, InvokeError> {
        let name = self.manifest.name.as_str();
        let err = |kind, message: String| InvokeError::new(kind, name, op, message);
        let offered = self
            .description()
            .map(|d| d.operations.as_slice())
            .unwrap_or_default();
        if !offered.iter().any(|o| o.name == op) {
            let names: Vec<&str> = offered.iter().map(|o| o.name.as_str()).collect();
            return Err(err(
                ErrorKind::NotFound,
                format!(
                    "adapter {name} has no operation {op:?} (it offers: {})",
                    names.join(", ")
                ),
            ));
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(input) {
            return Err(err(
                ErrorKind::InvalidInput,
                format!("input is not JSON: {e}"),
            ));
        }
        let limit = self.manifest.limits.timeout.get();
        let deadline = options
            .deadline
            .map_or(started + limit, |d| d.min(started + limit));
        let _permit = match self.permit(name, op, deadline).await? {
            Some(p) => p,
            None => {
                return Err(err(
                    ErrorKind::Unavailable,
                    format!(
                        "adapter {name} stayed at limits.concurrency ({}) until the call's deadline",
                        self.manifest.limits.concurrency
                    ),
                ));
            }
        };
        let call_id = options
            .call_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let first = options.first_attempt.unwrap_or(1);
        let retry = &self.manifest.retry;
        let max_attempts = options.max_attempts.unwrap_or(retry.max_attempts).max(1);
        let mut attempt = first;
        let mut transient_tries = 0u32;
        let mut auth_retried = false;
        loop {
            let ctx = types::CallContext {
                call_id: call_id.clone(),
                attempt,
                job_id: options.job_id.clone(),
                idempotency_key: options.idempotency_key.clone(),
            };
            let answer = self.invoke_once(&ctx, op, input, deadline).await;
            let attempts = attempt - first + 1;
            let (error, outcome) = match answer {
                Ok((Ok(output), outcome)) => {
                    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&output) {
                        let mut e = err(
                            ErrorKind::Trap,
                            format!("adapter {name} answered output that is not JSON: {e}"),
                        );
                        e.attempts = attempts;
                        return Err(e);
                    }
                    if let Err(message) = self.commit_jobs(outcome.jobs).await {
                        let mut e = err(ErrorKind::Transient, message);
                        e.attempts = attempts;
                        return Err(e);
                    }
                    return Ok(output);
                }
                Ok((Err(e), outcome)) => (e, outcome),
                Err(failure) => {
                    let mut e = err(failure.kind, failure.message);
                    e.attempts = attempts;
                    return Err(e);
                }
            };
            let mut e = self.map_error(op, &error, outcome.denied.as_deref());
            e.attempts = attempts;
            // The manifest may name platform codes that mean "token no longer good".
            let token_refused = matches!(error, types::AdapterError::Auth(_))
                || e.platform_code
                    .as_ref()
                    .is_some_and(|c| self.manifest.token.refresh_on.contains(c));
            match (&error, e.kind) {
                _ if token_refused && !auth_retried && !outcome.tokens_used.is_empty() => {
                    // An auth failure with no token used came from the token endpoint itself:
                    // another fetch with the same credentials would fail the same way.
                    auth_retried = true;
                    for (scope, token) in &outcome.tokens_used {
                        self.shared.tokens.invalidate(name, scope, token).await;
                    }
                    tracing::info!(
                        adapter = name,
                        op,
                        "platform refused the token: retrying once with a fresh one"
                    );
                }
                (types::AdapterError::Transient(t), ErrorKind::Transient)
                    if transient_tries + 1 < max_attempts =>
                {
                    transient_tries += 1;
                    let wait = backoff(retry, transient_tries, t.retry_after_ms);
                    if Instant::now() + wait >= deadline {
                        e.message.push_str(&format!(
                            " (no time left for another attempt within limits.timeout {})",
                            self.manifest.limits.timeout
                        ));
                        return Err(e);
                    }
                    tracing::info!(
                        adapter = name,
                        op,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "transient failure, retrying: {}",
                        e.message
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(e),
            }
            attempt += 1;
        }
    }

    /// A turn to run: at once if a slot is free; else waiting, if `limits.queue` leaves room,
    /// until the deadline (`None` when it passed).
    async fn permit(
        &self,
        name: &str,
        op: &str,
        deadline: Instant,
    ) -> Result<Option<tokio::sync::SemaphorePermit<'_>>, InvokeError> {
        use std::sync::atomic::Ordering;
        if let Ok(p) = self.permits.try_acquire() {
            return Ok(Some(p));
        }
        let limits = &self.manifest.limits;
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        struct Leave<'a>(&'a std::sync::atomic::AtomicU32);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(&self.waiting);
        if let Some(queue) = limits.queue
            && waiting > queue
        {
            return Err(InvokeError::new(
                ErrorKind::Busy,
                name,
                op,
                format!(
                    "adapter {name} has limits.concurrency ({}) calls running and limits.queue ({queue}) waiting: try again shortly",
                    limits.concurrency
                ),
            ));
        }
        match tokio::time::timeout_at(deadline.into(), self.permits.acquire()).await {
            Ok(Ok(p)) => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    async fn invoke_once(
        self: &Arc<Self>,
        ctx: &types::CallContext,
        op: &str,
        input: &str,
        deadline: Instant,
    ) -> Result<
        (Result<String, guest::AdapterError>, crate::adapter::Outcome),
        crate::adapter::Failure,
    > {
        let crate::adapter::Instance { mut store, world } =
            self.instantiate(Purpose::Invoke, op, deadline).await?;
        let result = tokio::time::timeout_at(
            deadline.into(),
            world
                .weft_adapter_adapter()
                .call_invoke(&mut store, ctx, op, input),
        )
        .await;
        self.finish(store, result)
    }

    /// Maps the adapter's error to the caller's, naming adapter and operation.
    fn map_error(&self, op: &str, e: &guest::AdapterError, denied: Option<&str>) -> InvokeError {
        let name = &self.manifest.name;
        let scrub = |s: &str| self.redactor.scrub(s);
        // A send refused by the allow-list explains the failure better than whatever the
        // adapter made of it.
        if let Some(why) = denied {
            return InvokeError::new(
                ErrorKind::Denied,
                name,
                op,
                format!(
                    "adapter {name} tried a host it was not granted: {}",
                    scrub(why)
                ),
            );
        }
        match e {
            types::AdapterError::InvalidInput(p) => {
                let mut out =
                    InvokeError::new(ErrorKind::InvalidInput, name, op, scrub(&p.message));
                out.details = details(&p.details);
                out
            }
            types::AdapterError::Rejected(r) => {
                let kind = if r.conflict {
                    ErrorKind::Conflict
                } else {
                    ErrorKind::Rejected
                };
                let mut out = InvokeError::new(kind, name, op, scrub(&r.message));
                out.platform_code = Some(r.code.clone());
                out.details = details(&r.details);
                out
            }
            types::AdapterError::Auth(m) => InvokeError::new(ErrorKind::Auth, name, op, scrub(m)),
            types::AdapterError::Transient(t) => {
                let mut out = InvokeError::new(ErrorKind::Transient, name, op, scrub(&t.message));
                out.platform_code = t.code.clone();
                out.retry_after_ms = t.retry_after_ms;
                out
            }
        }
    }
}

/// Exponential backoff with full jitter, never shorter than the platform's Retry-After.
pub(crate) fn backoff(
    policy: &crate::manifest::RetryPolicy,
    retry: u32,
    retry_after_ms: Option<u64>,
) -> Duration {
    let base = policy
        .initial_backoff
        .get()
        .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
    let cap = base.min(policy.max_backoff.get());
    let jittered = Duration::from_millis(rand::rng().random_range(0..=cap.as_millis() as u64));
    let floor = Duration::from_millis(retry_after_ms.unwrap_or(0));
    jittered.max(floor)
}
