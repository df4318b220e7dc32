//! Durable jobs, the capability: what a job is (ids, idempotency keys, the schedule job
//! names), the `jobs` interface adapters enqueue through, the group commits that store
//! enqueues and attempt ends in batches, and an operator's retry and cancel.
//!
//! The pool that runs jobs is the `workers` module; it sits above the runtime, this one below
//! the call path. Delivery is at least once: an attempt whose process died is taken again once
//! its lease lapses, so adapters make re-sends safe. Every state change is fenced on (state,
//! attempt).

mod batch;
mod guest;
pub mod runs;

pub(crate) use batch::{Enqueues, Finishes};
pub use guest::{CallJobs, JobsView};

use crate::store::NewJob;
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::clock::ms;
pub use crate::clock::now_ms;

/// Operations of schedule jobs are named `schedule:NAME`; an adapter cannot offer such a name.
pub const JOB_PREFIX: &str = "schedule:";

/// The job operation that runs schedule `name`.
pub fn job_op(name: &str) -> String {
    format!("{JOB_PREFIX}{name}")
}

/// The id of `adapter`'s job with idempotency key `key`: an HMAC under the deployment's own
/// secret (`secret`, kept in the store), shaped as a UUID. Anyone can compute a hash of a key;
/// only the deployment can compute this, so nobody can predict a job id to squat or probe it.
pub(crate) fn keyed_job_id(secret: &[u8], adapter: &str, key: &str) -> String {
    use hmac::Mac;
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return uuid::Uuid::new_v4().to_string(),
    };
    mac.update(adapter.as_bytes());
    mac.update(&[0]);
    mac.update(key.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Whose jobs are being made: the adapter, the attempts its retry policy grants, and the
/// deployment's secret that keyed job ids are derived under.
#[derive(Clone, Copy)]
pub struct Owner<'a> {
    /// Adapter (instance) name.
    pub adapter: &'a str,
    /// `[retry] max_attempts`.
    pub max_attempts: u32,
    /// The deployment's secret for job ids derived from idempotency keys.
    pub secret: &'a [u8],
}

impl Owner<'_> {
    /// A job of `op`: a keyed job's id is derived from its key, so the same key always names
    /// the same job.
    pub fn job(&self, op: &str, input: String, key: Option<String>, delay: Duration) -> NewJob {
        let id = match &key {
            Some(k) => keyed_job_id(self.secret, self.adapter, k),
            None => uuid::Uuid::new_v4().to_string(),
        };
        let request_hash = key.as_ref().map(|_| {
            let mut h = Sha256::new();
            h.update(op.as_bytes());
            h.update([0]);
            h.update(input.as_bytes());
            hex::encode(h.finalize())
        });
        NewJob {
            id,
            adapter: self.adapter.to_string(),
            op: op.to_string(),
            input,
            max_attempts: self.max_attempts,
            run_at_ms: now_ms() + ms(delay),
            idempotency_key: key,
            request_hash,
            priority: NORMAL,
        }
    }
}

/// Why a job request is refused before it is stored: `not-found` (no such operation) or
/// `invalid-input`, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The kind of mistake.
    pub kind: crate::error::ErrorKind,
    /// What is wrong, for the caller.
    pub message: String,
}

/// The one check of a job request, whoever sends it (the front door, a batch, an adapter's
/// own `jobs.enqueue`): `op` is an operation `description` offers, and `input` fits
/// `manifest`'s `limits.request_body` and is JSON (the size first, so that an input past the
/// limit is never parsed).
pub fn check(
    manifest: &crate::manifest::Manifest,
    description: Option<&crate::description::AdapterDescription>,
    op: &str,
    input: &str,
) -> Result<(), Refusal> {
    use crate::error::ErrorKind;
    let refuse = |kind, message| Err(Refusal { kind, message });
    if !description.is_some_and(|d| d.offers(op)) {
        return refuse(
            ErrorKind::NotFound,
            format!("adapter {} has no operation {op:?}", manifest.name),
        );
    }
    let limit = manifest.limits.request_body;
    if input.len() as u64 > limit.bytes() {
        return refuse(
            ErrorKind::InvalidInput,
            format!(
                "input of {} bytes exceeds limits.request_body ({limit})",
                input.len()
            ),
        );
    }
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(input) {
        return refuse(ErrorKind::InvalidInput, format!("input is not JSON: {e}"));
    }
    Ok(())
}

/// The priority of bulk work.
pub const NORMAL: i32 = 0;
/// The priority of schedule ticks and adapters' follow-ups: ahead of their adapter's normal
/// jobs (never of other adapters' share).
pub const URGENT: i32 = 1;

/// One job a caller asks to enqueue.
#[derive(Debug, Clone)]
pub struct JobRequest {
    /// The operation.
    pub op: String,
    /// Its JSON input.
    pub input: String,
    /// The same key and request name the same job.
    pub idempotency_key: Option<String>,
    /// How long from now it becomes due.
    pub delay: Duration,
}

/// What an operator's retry or cancel of a job did. The front door and the CLI both change
/// jobs through [`retry`] and [`cancel`], so they cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobChange {
    /// Done.
    Done,
    /// No such job.
    NotFound,
    /// The job is in a state that does not allow it (running or finished for a cancel; not
    /// dead for a retry).
    Refused(crate::store::JobState),
}

/// Attempts a retried job gets: its adapter's `[retry] max_attempts` (the default policy's
/// without a manifest).
pub fn retry_attempts(manifest: Option<&crate::manifest::Manifest>) -> u32 {
    manifest.map_or(crate::manifest::RetryPolicy::default().max_attempts, |m| {
        m.retry.max_attempts
    })
}

/// Puts dead job `id` back in the queue with `attempts` attempts.
pub async fn retry(
    store: &dyn crate::store::Store,
    id: &str,
    attempts: u32,
) -> Result<JobChange, crate::store::StoreError> {
    let Some(job) = store.job_get(id).await? else {
        return Ok(JobChange::NotFound);
    };
    // An operator's retry settles the steps that were sent and never answered: they run again
    // (an outcome-unknown job is retried once its platform was checked). Forgotten before the
    // job is queued, or a worker could claim it and find them unknown still; and only of a dead
    // job, whose steps nothing else touches.
    let unknown = if job.state == crate::store::JobState::Dead {
        store.step_forget_sent(id).await?
    } else {
        0
    };
    if store.job_retry(id, attempts.max(1), now_ms()).await? {
        tracing::info!(job = %id, attempts, unknown_steps = unknown, "dead job queued again");
        Ok(JobChange::Done)
    } else {
        Ok(JobChange::Refused(job.state))
    }
}

/// Cancels queued or dead job `id`: it never runs (again).
pub async fn cancel(
    store: &dyn crate::store::Store,
    id: &str,
) -> Result<JobChange, crate::store::StoreError> {
    let Some(job) = store.job_get(id).await? else {
        return Ok(JobChange::NotFound);
    };
    if store.job_cancel(id, now_ms()).await? {
        tracing::info!(job = %id, "job cancelled");
        Ok(JobChange::Done)
    } else {
        Ok(JobChange::Refused(job.state))
    }
}
