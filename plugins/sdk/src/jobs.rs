//! Durable follow-up work.

use crate::AdapterError;
use crate::bindings::weft::adapter::jobs as wit;
use serde::Serialize;

/// Enqueues `op` with `input` after `delay_ms`; returns the job id.
pub fn enqueue<T: Serialize + ?Sized>(
    op: &str,
    input: &T,
    delay_ms: u64,
    idempotency_key: Option<&str>,
) -> Result<String, AdapterError> {
    let input = serde_json::to_string(input)
        .map_err(|e| AdapterError::invalid_input(format!("job input: {e}")))?;
    wit::enqueue(op, &input, delay_ms, idempotency_key).map_err(job_error)
}

/// Enqueues `op` like [`enqueue`], as an urgent job: it runs ahead of this adapter's normal
/// jobs (bulk work), for a follow-up of earlier work such as an asynchronous result's poll.
pub fn enqueue_urgent<T: Serialize + ?Sized>(
    op: &str,
    input: &T,
    delay_ms: u64,
    idempotency_key: Option<&str>,
) -> Result<String, AdapterError> {
    let input = serde_json::to_string(input)
        .map_err(|e| AdapterError::invalid_input(format!("job input: {e}")))?;
    wit::enqueue_with_priority(op, &input, delay_ms, idempotency_key, wit::Priority::Urgent)
        .map_err(job_error)
}

fn job_error(e: wit::JobError) -> AdapterError {
    match e {
        wit::JobError::Invalid(m) => AdapterError::invalid_input(format!("job: {m}")),
        wit::JobError::Limit(m) => AdapterError::transient_code("job-limit", m),
        wit::JobError::Unavailable(m) => AdapterError::transient_code("jobs", m),
    }
}
