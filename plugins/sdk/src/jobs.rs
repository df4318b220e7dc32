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
    wit::enqueue(op, &input, delay_ms, idempotency_key).map_err(|e| match e {
        wit::JobError::Invalid(m) => AdapterError::invalid_input(format!("job: {m}")),
        wit::JobError::Limit(m) => AdapterError::transient_code("job-limit", m),
        wit::JobError::Unavailable(m) => AdapterError::transient_code("jobs", m),
    })
}
