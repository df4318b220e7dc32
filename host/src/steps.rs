//! The `steps` interface: durable steps. An adapter names each unit of platform work of a call
//! (one batch sent, one shipment created); the host records how it ended under the call's id,
//! which stays the same across the host's retries of the call, an operator's retry of a dead
//! job and a takeover after a crash. When the call runs again, a step that got a definitive
//! answer (a value, or the platform's rejection) is not run again: `begin` hands back what was
//! recorded. An unsafe step (creating, adjusting) is marked as sent before its first request
//! goes out; if that request then got no answer, the step stays `sent`, and the next run stops
//! as outcome-unknown instead of doing the work twice. Steps go with their job (see
//! [`crate::retention`]); no adapter sweeps anything.

use crate::bindings::{steps, types};
use crate::store::{StepState, Store, StoreError};
use std::collections::HashSet;

/// Longest step name, in bytes.
pub const MAX_NAME: usize = 200;
/// Steps one call may begin.
pub const MAX_STEPS: usize = 10_000;
/// Largest value a step records, in bytes.
pub const MAX_VALUE: usize = 4 * 1024 * 1024;

/// What one call knows of its steps.
#[derive(Debug, Default)]
pub struct CallSteps {
    /// The call's id, under which its steps are recorded (`None`: nothing is recorded).
    call_id: Option<String>,
    /// The step running now.
    current: Option<Current>,
    /// The steps begun in this run of the call.
    begun: HashSet<String>,
}

#[derive(Debug)]
struct Current {
    name: String,
    unsafe_resend: bool,
    /// Recorded as sent (an unsafe step, before its first request).
    marked: bool,
    /// One of its requests may have reached the platform and got no answer.
    unanswered: bool,
}

impl CallSteps {
    /// The steps of the call `call_id` (`None`: a call whose steps are not recorded).
    pub fn new(call_id: Option<String>) -> Self {
        Self {
            call_id,
            ..Self::default()
        }
    }

    /// The step running now, for the journal.
    pub fn current(&self) -> Option<&str> {
        self.current.as_ref().map(|c| c.name.as_str())
    }

    /// Before a request goes out: records an unsafe step as sent, once, so that a crash or a
    /// lost answer leaves it known as possibly done. An error means the store could not take
    /// the mark, and the request must not go out.
    pub async fn before_send(&mut self, store: &dyn Store) -> Result<(), StoreError> {
        let (Some(call_id), Some(current)) = (&self.call_id, &mut self.current) else {
            return Ok(());
        };
        if !current.unsafe_resend || current.marked {
            return Ok(());
        }
        store
            .step_put(
                call_id,
                &current.name,
                StepState::Sent,
                None,
                crate::clock::now_ms(),
            )
            .await?;
        current.marked = true;
        Ok(())
    }

    /// After a request of the current step ended without an answer that says what the
    /// platform did (a timeout, a connection cut after sending).
    pub fn no_answer(&mut self) {
        if let Some(current) = &mut self.current {
            current.unanswered = true;
        }
    }
}

/// What the `steps` interface sees of a call.
pub struct StepsView<'a> {
    /// The shared store.
    pub store: &'a dyn Store,
    /// The adapter's name, for the log and for outcome-unknown messages.
    pub adapter: &'a str,
    /// The call's steps.
    pub steps: &'a mut CallSteps,
}

/// A recorded failure, as kept in the store: enough to hand the same error back.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Recorded {
    InvalidInput {
        message: String,
        details: Vec<Detail>,
    },
    Rejected {
        code: String,
        message: String,
        details: Vec<Detail>,
        conflict: bool,
    },
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Detail {
    index: Option<u32>,
    field: Option<String>,
    code: Option<String>,
    message: String,
}

fn details_out(list: &[types::Detail]) -> Vec<Detail> {
    list.iter()
        .map(|d| Detail {
            index: d.index,
            field: d.field.clone(),
            code: d.code.clone(),
            message: d.message.clone(),
        })
        .collect()
}

fn details_in(list: Vec<Detail>) -> Vec<types::Detail> {
    list.into_iter()
        .map(|d| types::Detail {
            index: d.index,
            field: d.field,
            code: d.code,
            message: d.message,
        })
        .collect()
}

impl Recorded {
    fn of(e: &types::AdapterError) -> Option<Self> {
        match e {
            types::AdapterError::InvalidInput(p) => Some(Self::InvalidInput {
                message: p.message.clone(),
                details: details_out(&p.details),
            }),
            types::AdapterError::Rejected(r) => Some(Self::Rejected {
                code: r.code.clone(),
                message: r.message.clone(),
                details: details_out(&r.details),
                conflict: r.conflict,
            }),
            types::AdapterError::Auth(_) | types::AdapterError::Transient(_) => None,
        }
    }

    fn error(self) -> types::AdapterError {
        match self {
            Self::InvalidInput { message, details } => {
                types::AdapterError::InvalidInput(types::InputProblem {
                    message,
                    details: details_in(details),
                })
            }
            Self::Rejected {
                code,
                message,
                details,
                conflict,
            } => types::AdapterError::Rejected(types::Rejection {
                code,
                message,
                details: details_in(details),
                conflict,
            }),
        }
    }
}

/// The error a step answers when the store cannot say what it holds: the call fails as
/// transient and runs again later, rather than guess.
fn unavailable(e: StoreError) -> steps::Recorded {
    steps::Recorded::Failed(types::AdapterError::Transient(types::TransientFailure {
        message: format!("durable steps unavailable: {e}"),
        code: None,
        retry_after_ms: None,
    }))
}

impl steps::Host for StepsView<'_> {
    async fn begin(
        &mut self,
        name: String,
        resend: steps::Resend,
    ) -> wasmtime::Result<steps::Recorded> {
        if name.is_empty() || name.len() > MAX_NAME {
            wasmtime::bail!(
                "step names are 1 to {MAX_NAME} bytes, found {} bytes",
                name.len()
            );
        }
        if self.steps.begun.len() >= MAX_STEPS && !self.steps.begun.contains(&name) {
            wasmtime::bail!("a call may begin at most {MAX_STEPS} steps");
        }
        self.steps.begun.insert(name.clone());
        let unsafe_resend = matches!(resend, steps::Resend::Unsafe);
        self.steps.current = Some(Current {
            name: name.clone(),
            unsafe_resend,
            marked: false,
            unanswered: false,
        });
        let Some(call_id) = &self.steps.call_id else {
            return Ok(steps::Recorded::None);
        };
        let recorded = match self.store.step_get(call_id, &name).await {
            Ok(r) => r,
            Err(e) => return Ok(unavailable(e)),
        };
        let Some(record) = recorded else {
            return Ok(steps::Recorded::None);
        };
        Ok(match record.state {
            StepState::Succeeded => {
                self.steps.current = None;
                steps::Recorded::Succeeded(record.outcome.unwrap_or_default())
            }
            StepState::Failed => {
                self.steps.current = None;
                match record
                    .outcome
                    .and_then(|o| serde_json::from_str::<Recorded>(&o).ok())
                {
                    Some(failed) => steps::Recorded::Failed(failed.error()),
                    // A record this version cannot read: run the step again rather than
                    // invent an error.
                    None => steps::Recorded::None,
                }
            }
            StepState::Sent if unsafe_resend => {
                self.steps.current = None;
                tracing::warn!(adapter = %self.adapter, call_id = %call_id, step = %name, "an unsafe step was sent and never answered: the call stops as outcome-unknown");
                steps::Recorded::Unknown(format!(
                    "step {name:?} of call {call_id} was sent to the platform and no answer came back, and the adapter declares it unsafe to send twice: check on the platform whether it was done; then retry the job to run it again, or cancel the job if it was done"
                ))
            }
            // A safe step may go out again.
            StepState::Sent => steps::Recorded::None,
        })
    }

    async fn end(
        &mut self,
        name: String,
        outcome: Result<String, types::AdapterError>,
    ) -> wasmtime::Result<()> {
        let current = match self.steps.current.take() {
            Some(c) if c.name == name => c,
            other => {
                self.steps.current = other;
                wasmtime::bail!("step {name:?} ended without a begin: end each step it began");
            }
        };
        let Some(call_id) = &self.steps.call_id else {
            return Ok(());
        };
        let now = crate::clock::now_ms();
        let written = match &outcome {
            Ok(value) => {
                if value.len() > MAX_VALUE {
                    wasmtime::bail!(
                        "step {name:?} ended with a value of {} bytes; a step records at most {MAX_VALUE}",
                        value.len()
                    );
                }
                self.store
                    .step_put(call_id, &name, StepState::Succeeded, Some(value), now)
                    .await
            }
            Err(e) => match Recorded::of(e) {
                Some(failed) => {
                    let text = serde_json::to_string(&failed).unwrap_or_default();
                    self.store
                        .step_put(call_id, &name, StepState::Failed, Some(&text), now)
                        .await
                }
                // Not done, and known not done (the platform answered): the step runs again.
                None if current.marked && !current.unanswered => {
                    self.store.step_delete(call_id, &name).await
                }
                // Not marked (nothing to undo), or possibly done (the mark stays).
                None => Ok(()),
            },
        };
        if let Err(e) = written {
            // The next run may do this step again: say so where an operator looks.
            tracing::warn!(adapter = %self.adapter, call_id = %call_id, step = %name, "a step's outcome could not be recorded: {e}");
        }
        Ok(())
    }
}
