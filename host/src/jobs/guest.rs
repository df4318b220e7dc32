//! The `jobs` interface: an adapter enqueues jobs of its own operations during a call. They
//! are held until the call ends and committed only if it succeeds.

use super::Owner;
use crate::bindings::jobs;
use crate::description::AdapterDescription;
use crate::manifest::Manifest;
use crate::store::NewJob;
use std::time::Duration;

/// Jobs one call may enqueue.
const MAX_JOBS_PER_CALL: usize = 1000;
/// Bytes of job inputs one call may hold until it ends (they are kept in the host's memory
/// until the call succeeds and commits them).
const MAX_JOB_BYTES_PER_CALL: usize = 64 * 1024 * 1024;
/// Longest delay of an enqueued job.
const MAX_DELAY_MS: u64 = 30 * 24 * 3600 * 1000;

/// The jobs one call has enqueued so far.
#[derive(Debug, Default)]
pub struct CallJobs {
    /// The jobs, committed if the call succeeds.
    pub jobs: Vec<NewJob>,
    /// Bytes of their inputs.
    bytes: usize,
}

/// What the `jobs` interface sees of a call: its jobs so far and the adapter enqueuing them.
pub struct JobsView<'a> {
    /// This call's jobs.
    pub call: &'a mut CallJobs,
    /// The adapter's manifest (name, retry policy, body limit).
    pub manifest: &'a Manifest,
    /// The adapter's description (the operations a job may run).
    pub description: Option<&'a AdapterDescription>,
    /// The deployment's secret for keyed job ids.
    pub secret: &'a [u8],
}

impl jobs::Host for JobsView<'_> {
    async fn enqueue(
        &mut self,
        op: String,
        input: String,
        delay_ms: u64,
        idempotency_key: Option<String>,
    ) -> wasmtime::Result<Result<String, jobs::JobError>> {
        if let Err(refused) = super::check(self.manifest, self.description, &op, &input) {
            return Ok(Err(jobs::JobError::Invalid(refused.message)));
        }
        if delay_ms > MAX_DELAY_MS {
            return Ok(Err(jobs::JobError::Invalid(format!(
                "delay of {delay_ms} ms exceeds 30 days"
            ))));
        }
        if self.call.jobs.len() >= MAX_JOBS_PER_CALL {
            return Ok(Err(jobs::JobError::Limit(format!(
                "one call may enqueue at most {MAX_JOBS_PER_CALL} jobs"
            ))));
        }
        if self.call.bytes.saturating_add(input.len()) > MAX_JOB_BYTES_PER_CALL {
            return Ok(Err(jobs::JobError::Limit(format!(
                "the jobs one call enqueues may hold at most {} MiB of input",
                MAX_JOB_BYTES_PER_CALL >> 20
            ))));
        }
        self.call.bytes += input.len();
        let owner = Owner {
            adapter: &self.manifest.name,
            max_attempts: self.manifest.retry.max_attempts,
            secret: self.secret,
        };
        let job = owner.job(&op, input, idempotency_key, Duration::from_millis(delay_ms));
        let id = job.id.clone();
        self.call.jobs.push(job);
        Ok(Ok(id))
    }

    async fn enqueue_with_priority(
        &mut self,
        op: String,
        input: String,
        delay_ms: u64,
        idempotency_key: Option<String>,
        priority: jobs::Priority,
    ) -> wasmtime::Result<Result<String, jobs::JobError>> {
        let id = match self.enqueue(op, input, delay_ms, idempotency_key).await? {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        if let (jobs::Priority::Urgent, Some(job)) = (priority, self.call.jobs.last_mut()) {
            job.priority = super::URGENT;
        }
        Ok(Ok(id))
    }
}
