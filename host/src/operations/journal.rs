//! A call as an operator reads it after the fact: its durable steps and the journal of its
//! attempts, each with its exchanges.

use super::{Operations, Over};
use crate::store::StoreError;
use serde_json::{Value, json};

/// Attempts of one call read at most.
const MAX_ATTEMPTS: u32 = 100;
/// Steps of one call read at most.
const MAX_STEPS: u32 = 1000;

impl Operations {
    /// What is kept of call `call_id` (a job's id for a job): `None` when nothing is. Step
    /// values are shown with credential fields masked and the adapter's secrets scrubbed.
    pub async fn call_record(&self, call_id: &str) -> Result<Option<Value>, StoreError> {
        // A running host writes a succeeded attempt's journal after the call answered: what it
        // holds is written before it is read, so a call's journal can be read right after it.
        if let Over::Runtime(runtime) = &self.over {
            runtime.shared().journal_writes.flush().await;
        }
        let attempts = self.store.journal_get(call_id, MAX_ATTEMPTS).await?;
        let steps = self.store.step_list(call_id, MAX_STEPS).await?;
        let items = self.items(call_id).await?;
        if attempts.is_empty() && steps.is_empty() && items.is_none() {
            return Ok(None);
        }
        let attempts: Vec<Value> = attempts
            .into_iter()
            .filter_map(|(_, entry)| serde_json::from_str(&entry).ok())
            .collect();
        let adapter = attempts
            .first()
            .and_then(|a| a["adapter"].as_str())
            .map(str::to_string);
        let redactor = self.redactor_of(adapter.as_deref());
        let steps: Vec<Value> = steps
            .into_iter()
            .map(|s| {
                let mut outcome = s
                    .outcome
                    .as_deref()
                    .map(|o| serde_json::from_str(o).unwrap_or(Value::String(o.to_string())));
                if let Some(o) = &mut outcome {
                    crate::redact::mask_json(o, &redactor);
                }
                json!({
                    "name": s.name,
                    "state": s.state.as_str(),
                    "outcome": outcome,
                    "at_ms": s.updated_at_ms,
                })
            })
            .collect();
        Ok(Some(json!({
            "call_id": call_id,
            "adapter": adapter,
            "steps": steps,
            "items": items,
            "attempts": attempts,
        })))
    }

    /// The adapter's secrets (and, in a running host, its cached tokens), to scrub what is
    /// shown of its calls and its storage.
    pub(super) fn redactor_of(&self, adapter: Option<&str>) -> crate::redact::Redactor {
        let Some(name) = adapter else {
            return crate::redact::Redactor::default();
        };
        match &self.over {
            Over::Runtime(runtime) => {
                let mut r = runtime
                    .registry()
                    .get(name)
                    .map(|a| a.redactor.clone())
                    .unwrap_or_default();
                for token in runtime.cached_tokens(name) {
                    r.add(&token);
                }
                r
            }
            Over::Store { manifests, .. } => crate::manifest::named(manifests, name)
                .map(|m| crate::redact::Redactor::new(m.secrets.values().map(|s| s.expose())))
                .unwrap_or_default(),
        }
    }
}
