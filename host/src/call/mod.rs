//! The one call path: every export of an adapter (describe, fetch-token, invoke,
//! handle-inbound, on-schedule) runs through [`LoadedAdapter::call`], so that each gets the
//! same sequence — concurrency permit, fresh instance, CPU and wall-clock deadline, output
//! check, classification of failures, metrics under the export's name, redaction with the
//! call's own redactor, and the jobs the call enqueued committed in one store transaction.
//!
//! What differs between exports is policy, and it is written down here, in [`Export`]:
//! `describe` (at load, before the adapter is published) and `fetch-token` (called by the token
//! cache from inside another call that already holds a permit) take no permit, since waiting
//! for one there could deadlock an adapter whose `limits.concurrency` is 1.

mod adapter;
mod failure;
mod invoke;
mod items;
mod journaled;
mod state;

pub(crate) use adapter::{ComponentFetcher, Instance};
pub use adapter::{Failure, InFlight, LoadedAdapter, Outcome, Shared};
pub(crate) use invoke::count_schedule_run;
pub use invoke::{CallOptions, ItemsSink};
pub use state::{CallState, MemoryLimiter, Purpose, linker};

use crate::bindings::{guest, types};
use crate::error::ErrorKind;
use crate::metrics::ExportLabels;
use crate::redact::Redactor;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// One export to call, with its arguments.
pub(crate) enum Export<'a> {
    /// `describe()`, at load.
    Describe,
    /// `fetch-token(scope)`, for the token cache.
    FetchToken {
        /// The scope asked for.
        scope: &'a str,
    },
    /// `invoke(ctx, op, input)`.
    Invoke {
        /// Operation.
        op: &'a str,
        /// JSON input.
        input: &'a str,
    },
    /// `handle-inbound(ctx, request)`, after the host authenticated the request.
    Inbound {
        /// The request as the adapter sees it.
        request: guest::InboundRequest,
    },
    /// `on-schedule(ctx, name)`.
    Schedule {
        /// Schedule name.
        name: &'a str,
    },
}

impl Export<'_> {
    /// The export's name, as metrics and logs show it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Describe => "describe",
            Self::FetchToken { .. } => "fetch-token",
            Self::Invoke { .. } => "invoke",
            Self::Inbound { .. } => "handle-inbound",
            Self::Schedule { .. } => "on-schedule",
        }
    }

    fn purpose(&self) -> Purpose {
        match self {
            Self::Describe => Purpose::Describe,
            Self::FetchToken { .. } => Purpose::FetchToken,
            Self::Invoke { .. } => Purpose::Invoke,
            Self::Inbound { .. } => Purpose::Inbound,
            Self::Schedule { .. } => Purpose::Schedule,
        }
    }

    /// What logs name the call by: the operation, `inbound:ROUTE` or `on-schedule:NAME`.
    fn label(&self) -> String {
        match self {
            Self::Describe => "describe".into(),
            Self::FetchToken { .. } => "fetch-token".into(),
            Self::Invoke { op, .. } => (*op).to_string(),
            Self::Inbound { request } => format!("inbound:{}", request.route),
            Self::Schedule { name } => format!("on-schedule:{name}"),
        }
    }

    /// Whether the call waits for one of `limits.concurrency` (see the module doc).
    fn takes_permit(&self) -> bool {
        !matches!(self, Self::Describe | Self::FetchToken { .. })
    }
}

/// What an export answered.
pub(crate) enum Answer {
    /// `describe`'s description.
    Describe(guest::Description),
    /// `fetch-token`'s grant or error.
    FetchToken(Result<guest::TokenGrant, guest::AdapterError>),
    /// `invoke`'s JSON output (checked to be JSON) or error.
    Invoke(Result<String, guest::AdapterError>),
    /// `handle-inbound`'s response.
    Inbound(guest::InboundResponse),
    /// `on-schedule`'s result.
    Schedule(Result<(), guest::AdapterError>),
}

/// The typed answer of each export: an export's caller takes its own type, and an answer of
/// another export (a bug of the host) is the one `wrong_export` failure, written here only.
impl Answer {
    /// `describe`'s description.
    pub(crate) fn description(self, adapter: &str) -> Result<guest::Description, Failure> {
        match self {
            Self::Describe(d) => Ok(d),
            _ => Err(Failure::wrong_export(adapter)),
        }
    }

    /// `fetch-token`'s grant or error.
    pub(crate) fn grant(
        self,
        adapter: &str,
    ) -> Result<Result<guest::TokenGrant, guest::AdapterError>, Failure> {
        match self {
            Self::FetchToken(g) => Ok(g),
            _ => Err(Failure::wrong_export(adapter)),
        }
    }

    /// `handle-inbound`'s response.
    pub(crate) fn response(self, adapter: &str) -> Result<guest::InboundResponse, Failure> {
        match self {
            Self::Inbound(r) => Ok(r),
            _ => Err(Failure::wrong_export(adapter)),
        }
    }

    /// `invoke`'s output (`Some`) or `on-schedule`'s success (`None`), or the adapter's error.
    pub(crate) fn result(
        self,
        adapter: &str,
    ) -> Result<Result<Option<String>, guest::AdapterError>, Failure> {
        match self {
            Self::Invoke(r) => Ok(r.map(Some)),
            Self::Schedule(r) => Ok(r.map(|()| None)),
            _ => Err(Failure::wrong_export(adapter)),
        }
    }

    /// Whether the call succeeded, so that the jobs it enqueued are committed.
    fn succeeded(&self) -> bool {
        match self {
            Self::Invoke(r) => r.is_ok(),
            Self::Schedule(r) => r.is_ok(),
            Self::Inbound(r) => (200..300).contains(&r.status),
            // Neither enqueues jobs in any adapter that makes sense; committing nothing is safe.
            Self::Describe(_) | Self::FetchToken(_) => false,
        }
    }

    fn outcome_label(&self) -> &'static str {
        let error = match self {
            Self::Invoke(Err(e)) | Self::Schedule(Err(e)) | Self::FetchToken(Err(e)) => e,
            Self::Inbound(r) if r.status >= 500 => return "server-error",
            _ => return "ok",
        };
        match error {
            types::AdapterError::InvalidInput(_) => ErrorKind::InvalidInput.as_str(),
            types::AdapterError::Rejected(r) if r.conflict => ErrorKind::Conflict.as_str(),
            types::AdapterError::Rejected(_) => ErrorKind::Rejected.as_str(),
            types::AdapterError::Auth(_) => ErrorKind::Auth.as_str(),
            types::AdapterError::Transient(_) => ErrorKind::Transient.as_str(),
        }
    }
}

/// A finished call: the export's answer, what the call left behind, and the redactor that knows
/// every secret and token of this call (to scrub whatever the caller makes of the answer).
pub(crate) struct Called {
    /// The answer.
    pub answer: Answer,
    /// Tokens used and sends denied.
    pub outcome: Outcome,
    /// Secrets and the tokens this call was handed.
    pub redactor: Redactor,
}

impl LoadedAdapter {
    /// Calls `export` in a fresh instance under `deadline` (see the module doc for the steps).
    pub(crate) async fn call(
        self: &Arc<Self>,
        export: Export<'_>,
        ctx: &types::CallContext,
        deadline: Instant,
    ) -> Result<Called, Failure> {
        let journaled = matches!(
            export.purpose(),
            Purpose::Invoke | Purpose::Schedule | Purpose::Inbound
        );
        if !journaled {
            return self
                .call_into(export, ctx, deadline, &crate::journal::Journal::default())
                .await;
        }
        let journal = crate::journal::Journal::new(&self.manifest.journal);
        let what = journaled::What::of(&export);
        let started = crate::clock::now_ms();
        let result = self.call_into(export, ctx, deadline, &journal).await;
        self.keep_journal(what, ctx, started, &journal, &result)
            .await;
        result
    }

    /// [`LoadedAdapter::call`], its exchanges gathered in `journal` (a token fetch's in the
    /// journal of the call that needed the token).
    pub(crate) async fn call_into(
        self: &Arc<Self>,
        export: Export<'_>,
        ctx: &types::CallContext,
        deadline: Instant,
        journal: &crate::journal::Journal,
    ) -> Result<Called, Failure> {
        let started = Instant::now();
        let name = export.name();
        let span = tracing::info_span!(
            "export",
            adapter = %self.manifest.name,
            export = name,
            label = %export.label(),
        );
        let result = self
            .call_inner(export, ctx, deadline, journal)
            .instrument(span)
            .await;
        let outcome = match &result {
            Ok(called) => called.answer.outcome_label(),
            Err(f) => f.kind.as_str(),
        };
        let labels = ExportLabels {
            adapter: self.manifest.name.clone(),
            export: name.to_string(),
            outcome: outcome.to_string(),
        };
        let metrics = &self.shared.metrics;
        metrics.export_calls.get_or_create(&labels).inc();
        metrics
            .export_seconds
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        result
    }

    async fn call_inner(
        self: &Arc<Self>,
        export: Export<'_>,
        ctx: &types::CallContext,
        deadline: Instant,
        journal: &crate::journal::Journal,
    ) -> Result<Called, Failure> {
        let label = export.label();
        let _running = self
            .shared
            .in_flight
            .enter(&ctx.call_id, &self.manifest.name, &label);
        let _permit = if export.takes_permit() {
            Some(self.permit(deadline).await?)
        } else {
            None
        };
        let Instance { mut store, world } =
            self.instantiate(export.purpose(), &label, deadline).await?;
        journal.attach(store.data().redactor.clone());
        store.data_mut().journal_into(journal.clone());
        if matches!(export.purpose(), Purpose::Invoke | Purpose::Schedule) {
            // Steps are recorded under the call's id: a job's id for a job, so that every run
            // of the job finds them.
            store.data_mut().steps = crate::steps::CallSteps::new(Some(ctx.call_id.clone()));
        }
        let guest = world.weft_adapter_adapter();
        let at = deadline.into();
        let result = match export {
            Export::Describe => tokio::time::timeout_at(at, guest.call_describe(&mut store))
                .await
                .map(|r| r.map(Answer::Describe)),
            Export::FetchToken { scope } => {
                tokio::time::timeout_at(at, guest.call_fetch_token(&mut store, scope))
                    .await
                    .map(|r| r.map(Answer::FetchToken))
            }
            Export::Invoke { op, input } => {
                tokio::time::timeout_at(at, guest.call_invoke(&mut store, ctx, op, input))
                    .await
                    .map(|r| r.map(Answer::Invoke))
            }
            Export::Inbound { request } => {
                tokio::time::timeout_at(at, guest.call_handle_inbound(&mut store, ctx, &request))
                    .await
                    .map(|r| r.map(Answer::Inbound))
            }
            Export::Schedule { name } => {
                tokio::time::timeout_at(at, guest.call_on_schedule(&mut store, ctx, name))
                    .await
                    .map(|r| r.map(Answer::Schedule))
            }
        };
        let redactor = store.data().redactor.snapshot();
        let (answer, mut outcome) = self.finish(store, result)?;
        if let Answer::Invoke(Ok(output)) = &answer
            && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(output)
        {
            return Err(Failure {
                kind: ErrorKind::Trap,
                message: format!(
                    "adapter {} answered output that is not JSON: {e}",
                    self.manifest.name
                ),
            });
        }
        let answer = self.keep_items(ctx, answer, &outcome.items).await;
        let jobs = std::mem::take(&mut outcome.jobs);
        if answer.succeeded() && !jobs.is_empty() {
            self.commit_jobs(jobs).await.map_err(|message| Failure {
                kind: ErrorKind::Transient,
                message,
            })?;
        }
        Ok(Called {
            answer,
            outcome,
            redactor,
        })
    }

    /// A turn to run: at once if a slot is free; else waiting, if `limits.queue` leaves room,
    /// until the deadline.
    async fn permit(&self, deadline: Instant) -> Result<tokio::sync::SemaphorePermit<'_>, Failure> {
        use std::sync::atomic::Ordering;
        if let Ok(p) = self.permits.try_acquire() {
            return Ok(p);
        }
        let limits = &self.manifest.limits;
        let name = &self.manifest.name;
        let waiting = self.waiting.fetch_add(1, Ordering::SeqCst) + 1;
        struct Leave<'a>(&'a std::sync::atomic::AtomicU32);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _leave = Leave(self.waiting.as_ref());
        if let Some(queue) = limits.queue
            && waiting > queue
        {
            return Err(Failure {
                kind: ErrorKind::Busy,
                message: format!(
                    "adapter {name} has limits.concurrency ({}) calls running and limits.queue ({queue}) waiting: try again shortly",
                    limits.concurrency
                ),
            });
        }
        match tokio::time::timeout_at(deadline.into(), self.permits.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Failure {
                kind: ErrorKind::Unavailable,
                message: format!(
                    "adapter {name} stayed at limits.concurrency ({}) until the call's deadline",
                    limits.concurrency
                ),
            }),
        }
    }
}

/// A context for a call that is not part of a job or a caller's request.
pub(crate) fn fresh_context() -> types::CallContext {
    types::CallContext {
        call_id: uuid::Uuid::new_v4().to_string(),
        attempt: 1,
        job_id: None,
        idempotency_key: None,
    }
}
