//! Keeping a call's exchanges in the journal when the adapter's `[journal] keep` says so: one
//! row per attempt, with what was called, how it ended and every exchange.

use super::{Answer, Called, Export, Failure, LoadedAdapter};
use crate::bindings::types;
use crate::journal::Journal;
use crate::store::JournalRow;
use serde_json::json;

/// Most of a call's input an attempt's journal keeps (a job's whole input is in its record).
const MAX_INPUT: usize = 1024 * 1024;

/// What a journaled call ran, as its journal says it.
pub(super) struct What<'a> {
    export: &'static str,
    label: String,
    input: Option<&'a str>,
}

impl<'a> What<'a> {
    pub(super) fn of(export: &Export<'a>) -> Self {
        Self {
            export: export.name(),
            label: export.label(),
            input: match export {
                Export::Invoke { input, .. } => Some(input),
                _ => None,
            },
        }
    }
}

impl LoadedAdapter {
    /// Keeps the attempt's journal (gathered in `journal`) if the policy keeps an attempt that
    /// ended as `result`; a store that cannot take it costs a WARN line, not the call.
    pub(super) async fn keep_journal(
        &self,
        what: What<'_>,
        ctx: &types::CallContext,
        started_ms: i64,
        journal: &Journal,
        result: &Result<Called, Failure>,
    ) {
        let succeeded = result.as_ref().is_ok_and(|c| c.answer.succeeded());
        if !journal.keeps(succeeded) {
            journal.discard();
            return;
        }
        let (exchanges, dropped) = journal.take();
        if succeeded && exchanges.is_empty() {
            return;
        }
        let redactor = journal.redactor();
        let (outcome, error, platform_code) = outcome_of(result, succeeded, &redactor);
        let input = what.input.map(|text| {
            // Judged by its size before it is parsed: a batch of 100,000 rows parsed, masked
            // and written out again only to be found too large cost more than the call's own
            // work with the platform.
            if text.len() > MAX_INPUT {
                return json!({ "cut": true, "bytes": text.len() });
            }
            let mut v = serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|_| serde_json::Value::String(text.to_string()));
            crate::redact::mask_json(&mut v, &redactor);
            let masked = v.to_string();
            if masked.len() > MAX_INPUT {
                json!({ "cut": true, "bytes": masked.len() })
            } else {
                v
            }
        });
        let now = crate::clock::now_ms();
        let entry = json!({
            "call_id": ctx.call_id,
            "attempt": ctx.attempt,
            "adapter": self.manifest.name,
            "job_id": ctx.job_id,
            "export": what.export,
            "label": what.label,
            "input": input,
            "outcome": outcome,
            "error": error,
            "platform_code": platform_code,
            "started_at_ms": started_ms,
            "ended_at_ms": now,
            "exchanges": exchanges,
            "dropped": dropped,
        });
        let row = JournalRow {
            call_id: ctx.call_id.clone(),
            attempt: ctx.attempt,
            adapter: self.manifest.name.clone(),
            job_id: ctx.job_id.clone(),
            at_ms: now,
            entry: entry.to_string(),
        };
        // A succeeded attempt's journal is written after its answer (a reader on this node
        // flushes first), and shed when the writer is behind — counted, never slowing the
        // calls, as a tracer drops spans; a failed one's is written before its answer, so
        // that the failure recorded or answered can always be looked up.
        let writes = &self.shared.journal_writes;
        if succeeded {
            if !writes.offer(&self.shared.store, row) {
                self.shared.metrics.record_journal_shed(&self.manifest.name);
            }
        } else if let Err(e) = writes.commit(&self.shared.store, row).await {
            tracing::warn!(adapter = %self.manifest.name, call_id = %ctx.call_id, "the call's journal could not be kept: {e}");
        }
    }
}

/// How an attempt ended, as its journal says it: the outcome ("ok" or the error's kind), the
/// error's message and the platform's code, scrubbed.
fn outcome_of(
    result: &Result<Called, Failure>,
    succeeded: bool,
    redactor: &crate::redact::Redactor,
) -> (String, Option<String>, Option<String>) {
    let platform_code = match result {
        Ok(c) => match &c.answer {
            Answer::Invoke(Err(e)) | Answer::Schedule(Err(e)) => match e {
                types::AdapterError::Rejected(r) => Some(r.code.clone()),
                types::AdapterError::Transient(t) => t.code.clone(),
                _ => None,
            },
            _ => None,
        },
        Err(_) => None,
    };
    let (outcome, error) = match result {
        Ok(_) if succeeded => ("ok".to_string(), None),
        Ok(c) => (
            c.answer.outcome_label().to_string(),
            Some(match &c.answer {
                Answer::Invoke(Err(e)) | Answer::Schedule(Err(e)) => {
                    c.redactor.scrub(&super::failure::error_message(e))
                }
                Answer::Inbound(r) => format!("answered {}", r.status),
                _ => String::new(),
            }),
        ),
        Err(f) => (
            f.kind.as_str().to_string(),
            Some(redactor.scrub(&f.message)),
        ),
    };
    (outcome, error, platform_code.map(|c| redactor.scrub(&c)))
}
