//! Running one operation (or schedule) to its end: input checks, then calls through the one
//! call path (`crate::call`), one token refresh on `auth`, and backoff on `transient`, all
//! inside the call's deadline.

use super::Export;
use super::LoadedAdapter;
use super::failure::AfterFailure;
use crate::bindings::types;
use crate::clock::now_ms;
use crate::error::{ErrorKind, InvokeError};
use crate::metrics::{CallLabels, ErrorLabels};
use crate::retry::backoff;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

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
    /// Where the call's item report (its last attempt's) is left for the caller, when it
    /// wants one: the front door answers it in headers.
    pub items: Option<ItemsSink>,
}

/// Where a call leaves what became of its items.
pub type ItemsSink = std::sync::Arc<std::sync::Mutex<crate::items::Tally>>;

/// What a retried call runs: an operation or a schedule.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation<'a> {
    /// `invoke(op, input)`.
    Op {
        /// Operation.
        op: &'a str,
        /// JSON input.
        input: &'a str,
    },
    /// `on-schedule(name)`.
    Schedule(&'a str),
}

impl<'a> Operation<'a> {
    fn label(&self) -> String {
        match self {
            Self::Op { op, .. } => (*op).to_string(),
            Self::Schedule(name) => crate::jobs::job_op(name),
        }
    }

    fn export(&self) -> Export<'a> {
        match *self {
            Self::Op { op, input } => Export::Invoke { op, input },
            Self::Schedule(name) => Export::Schedule { name },
        }
    }
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
        let result = match self.check_invoke(op, input) {
            Ok(()) => {
                self.run_with_retries(Operation::Op { op, input }, options)
                    .await
            }
            // An operation the adapter does not offer comes from the caller's URL: never a
            // label value, or anyone could grow the metrics without bound.
            Err(e) if e.kind == ErrorKind::NotFound => return Err(e),
            Err(e) => Err(e),
        };
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
            if e.kind.is_callers() {
                tracing::info!(adapter = %self.manifest.name, op, kind = %e.kind, attempts = e.attempts, "call refused: {}", e.message);
            } else {
                tracing::warn!(adapter = %self.manifest.name, op, kind = %e.kind, attempts = e.attempts, "call failed: {}", e.message);
            }
        }
        result.map(|o| o.unwrap_or_default())
    }

    /// The caller's mistakes, found before any instance runs.
    #[allow(clippy::result_large_err)]
    fn check_invoke(&self, op: &str, input: &str) -> Result<(), InvokeError> {
        let name = self.manifest.name.as_str();
        let offered = self
            .description()
            .map(|d| d.operations.as_slice())
            .unwrap_or_default();
        if !offered.iter().any(|o| o.name == op) {
            let names: Vec<&str> = offered.iter().map(|o| o.name.as_str()).collect();
            return Err(InvokeError::new(
                ErrorKind::NotFound,
                name,
                op,
                format!(
                    "adapter {name} has no operation {op:?} (it offers: {})",
                    names.join(", ")
                ),
            ));
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(input) {
            return Err(InvokeError::new(
                ErrorKind::InvalidInput,
                name,
                op,
                format!("input is not JSON: {e}"),
            ));
        }
        Ok(())
    }

    /// Calls `what` through the one call path until it succeeds, fails for good, or the
    /// deadline leaves no room: one fresh token after an `auth` refusal of a token the call
    /// used, and backoff between transient failures. An operation answers its output.
    pub(crate) async fn run_with_retries(
        self: &Arc<Self>,
        what: Operation<'_>,
        options: CallOptions,
    ) -> Result<Option<String>, InvokeError> {
        let call_id = options
            .call_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let span = tracing::info_span!(
            "call",
            adapter = %self.manifest.name,
            op = %what.label(),
            call_id = %call_id,
            job_id = options.job_id.as_deref().unwrap_or(""),
        );
        let started = Instant::now();
        let result = self
            .run_with_retries_in(what, options, call_id)
            .instrument(span)
            .await;
        // Operations and schedule runs alike, for the console's last hour.
        self.shared.metrics.recent.record_call(
            &self.manifest.name,
            result.is_ok(),
            started.elapsed().as_secs_f64(),
        );
        result
    }

    async fn run_with_retries_in(
        self: &Arc<Self>,
        what: Operation<'_>,
        options: CallOptions,
        call_id: String,
    ) -> Result<Option<String>, InvokeError> {
        let started = Instant::now();
        let name = self.manifest.name.as_str();
        let label = what.label();
        let op = label.as_str();
        let err = |kind, message: String| InvokeError::new(kind, name, op, message);
        let limit = self.manifest.limits.timeout.get();
        let deadline = options
            .deadline
            .map_or(started + limit, |d| d.min(started + limit));
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
            let answer = self
                .call(what.export(), &ctx, deadline)
                .instrument(tracing::info_span!("attempt", attempt))
                .await;
            let attempts = attempt - first + 1;
            let called = match answer {
                Ok(called) => called,
                Err(failure) => {
                    let mut e = err(failure.kind, failure.message);
                    e.attempts = attempts;
                    return Err(e);
                }
            };
            if let Some(sink) = &options.items
                && let Ok(mut tally) = sink.lock()
            {
                tally.clone_from(&called.outcome.items);
            }
            let error = match called.answer.result(&self.manifest.name) {
                Ok(Ok(done)) => return Ok(done),
                Ok(Err(e)) => e,
                Err(wrong) => return Err(err(wrong.kind, wrong.message)),
            };
            let outcome = called.outcome;
            let mut e = self.map_error(op, &error, outcome.denied.as_deref(), &called.redactor);
            e.attempts = attempts;
            match self.after_failure(&error, &e, !auth_retried && !outcome.tokens_used.is_empty()) {
                AfterFailure::FreshToken => {
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
                AfterFailure::Later(retry_after_ms) if transient_tries + 1 < max_attempts => {
                    transient_tries += 1;
                    let wait = backoff(retry, transient_tries, retry_after_ms);
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
                AfterFailure::Later(_) | AfterFailure::Stop => return Err(e),
            }
            attempt += 1;
        }
    }
}

impl LoadedAdapter {
    /// Runs `on-schedule(name)` now, in this process, with the same retries as an operation
    /// (one token refresh on `auth`, transient failures under the retry policy); jobs it
    /// enqueued commit if it succeeds.
    pub async fn on_schedule(self: &Arc<Self>, name: &str) -> Result<(), InvokeError> {
        self.run_schedule(name, CallOptions::default()).await
    }

    /// Runs `on-schedule(name)` with `options` (a job passes its id and attempt), counting the
    /// run under its real outcome.
    pub async fn run_schedule(
        self: &Arc<Self>,
        name: &str,
        options: CallOptions,
    ) -> Result<(), InvokeError> {
        let result = self
            .run_with_retries(Operation::Schedule(name), options)
            .await
            .map(|_| ());
        match &result {
            Ok(()) => {
                count_schedule_run(self, name, "ok");
                self.shared
                    .metrics
                    .schedule_last_success
                    .get_or_create(&crate::metrics::ScheduleNameLabels {
                        adapter: self.manifest.name.clone(),
                        schedule: name.to_string(),
                    })
                    .set(now_ms() / 1000);
                tracing::info!(adapter = %self.manifest.name, schedule = name, "schedule ran");
            }
            Err(e) => {
                count_schedule_run(self, name, e.kind.as_str());
                tracing::warn!(adapter = %self.manifest.name, schedule = name, kind = %e.kind, "schedule failed: {}", e.message);
            }
        }
        result
    }
}

pub(crate) fn count_schedule_run(adapter: &LoadedAdapter, schedule: &str, outcome: &str) {
    adapter
        .shared
        .metrics
        .schedule_runs
        .get_or_create(&crate::metrics::ScheduleLabels {
            adapter: adapter.manifest.name.clone(),
            schedule: schedule.to_string(),
            outcome: outcome.to_string(),
        })
        .inc();
}
