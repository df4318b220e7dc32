//! Durable steps: run each unit of platform work of a call (one batch sent, one shipment
//! created) as a named step, and the host keeps its outcome under the call's id. When the call
//! runs again — the host retrying it after a 429 or a refused token, an operator retrying a dead
//! job, another node taking over after a crash — a step that already got a definitive answer is
//! not sent again: [`run`] hands back the recorded value (or the platform's recorded rejection).
//!
//! Name steps by what they do and where they are (`"batch/3"`, `"shipment/ORD-7"`): the same
//! name in the next run means the same work. A step's value is JSON, so it should be what later
//! steps need (an id the platform gave, a count), not a whole answer.
//!
//! [`run`] is for work that does no harm when sent twice (a read, a stock snapshot, an upsert by
//! the caller's key): a step whose request went out and got no answer runs again. [`run_once`]
//! is for work that must not happen twice (create, adjust, book): the host records the step as
//! sent before its first request, and if no answer came back, the next run stops with a
//! `rejected` error coded `outcome-unknown` that names the step, instead of doing it twice.

use crate::bindings::weft::adapter::steps as wit;
use crate::{AdapterError, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The code of the error a [`run_once`] step answers when it was sent and never answered.
pub const OUTCOME_UNKNOWN: &str = "outcome-unknown";

/// Largest value the host records for a step (its `steps::MAX_VALUE`, 4 MiB).
const MAX_VALUE: usize = 4 * 1024 * 1024;

/// Runs `work` as step `name`, which may be sent again when it got no answer; a recorded
/// outcome from an earlier run of this call is returned without running it.
pub fn run<T: Serialize + DeserializeOwned>(
    name: &str,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    step(name, wit::Resend::Safe, work)
}

/// Runs `work` as step `name`, which must not be done twice (see the module's doc).
pub fn run_once<T: Serialize + DeserializeOwned>(
    name: &str,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    step(name, wit::Resend::Unsafe, work)
}

fn step<T: Serialize + DeserializeOwned>(
    name: &str,
    resend: wit::Resend,
    work: impl FnOnce() -> Result<T>,
) -> Result<T> {
    match wit::begin(name, resend) {
        wit::Recorded::Succeeded(text) => serde_json::from_str(&text).map_err(|e| {
            AdapterError::transient(format!(
                "step {name}: its recorded value is not what this version reads: {e}"
            ))
        }),
        wit::Recorded::Failed(e) => Err(AdapterError::from_wit(e)),
        wit::Recorded::Unknown(message) => Err(AdapterError::rejected(OUTCOME_UNKNOWN, message)),
        wit::Recorded::None => {
            let result = work();
            let outcome = match &result {
                // Not recorded (a value that cannot be written, or is past what the host
                // keeps): ended as a passing failure, so the step runs again next time, and
                // this run goes on with its value.
                Ok(value) => match serde_json::to_string(value) {
                    Ok(text) if text.len() <= MAX_VALUE => Ok(text),
                    Ok(text) => Err(AdapterError::transient(format!(
                        "step {name}: a value of {} bytes is past the {MAX_VALUE} a step records",
                        text.len()
                    ))
                    .into_wit()),
                    Err(e) => Err(AdapterError::transient(format!(
                        "step {name}: value not recordable: {e}"
                    ))
                    .into_wit()),
                },
                Err(e) => Err(e.clone().into_wit()),
            };
            wit::end(name, outcome.as_deref());
            result
        }
    }
}
