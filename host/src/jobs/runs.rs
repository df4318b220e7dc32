//! What each schedule's runs did: the last [`KEPT`] attempts of its jobs, ticks and runs asked
//! for by hand alike, with their outcome, duration and error. A tick's job is pruned an hour
//! after it succeeds (`--tick-retention`); its line here stays until newer runs push it out.
//!
//! Kept as one small JSON list per schedule in a host namespace, written with a compare-and-
//! swap, so nodes finishing runs of one schedule at once both land and no table is added to
//! either store for a list of twenty.

use crate::store::{JobOutcome, JobRecord, KvStore, StoreError, host_namespace::SCHEDULE_HISTORY};
use serde::{Deserialize, Serialize};

/// Runs kept per schedule, newest first.
pub const KEPT: usize = 20;

/// Compare-and-swap tries before a run's line is given up (and logged).
const TRIES: usize = 8;

/// One attempt of a schedule's job, as its history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRun {
    /// The job.
    pub job: String,
    /// The attempt (1 for the first).
    pub attempt: u32,
    /// True for a run asked for by hand (`run now`), false for a tick.
    pub manual: bool,
    /// When the attempt started, unix ms.
    pub started_at_ms: i64,
    /// How long it took.
    pub duration_ms: u64,
    /// `succeeded`, `retry` (failed, will be tried again) or `dead`.
    pub outcome: String,
    /// The error (a problem object), if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
}

fn key(adapter: &str, schedule: &str) -> String {
    format!("{adapter}/{schedule}")
}

/// Adds `run` to the front of `adapter`'s schedule `schedule`'s history, dropping what is past
/// [`KEPT`].
pub async fn record(
    store: &dyn KvStore,
    adapter: &str,
    schedule: &str,
    run: ScheduleRun,
) -> Result<(), StoreError> {
    let key = key(adapter, schedule);
    for _ in 0..TRIES {
        let old = store.kv_get(SCHEDULE_HISTORY, &key).await?;
        let mut runs: Vec<ScheduleRun> = old
            .as_deref()
            .and_then(|v| serde_json::from_slice(v).ok())
            .unwrap_or_default();
        runs.insert(0, run.clone());
        runs.truncate(KEPT);
        let new = serde_json::to_vec(&runs).unwrap_or_default();
        if store
            .kv_cas(SCHEDULE_HISTORY, &key, old.as_deref(), Some(&new))
            .await?
        {
            return Ok(());
        }
    }
    tracing::warn!(
        adapter,
        schedule,
        job = %run.job,
        "a schedule run was not added to its history: {TRIES} writers raced for it"
    );
    Ok(())
}

/// `adapter`'s schedule `schedule`'s last runs, newest first.
pub async fn history(
    store: &dyn KvStore,
    adapter: &str,
    schedule: &str,
) -> Result<Vec<ScheduleRun>, StoreError> {
    Ok(store
        .kv_get(SCHEDULE_HISTORY, &key(adapter, schedule))
        .await?
        .and_then(|v| serde_json::from_slice(&v).ok())
        .unwrap_or_default())
}

/// Adds an ended attempt of `schedule`'s job `job`, which took `took`, to the schedule's history
/// (a released attempt did not run, and is not a run); a store that fails is logged.
pub(crate) async fn remember(
    store: &dyn KvStore,
    job: &JobRecord,
    schedule: &str,
    outcome: &JobOutcome,
    took: std::time::Duration,
) {
    let (label, error) = match outcome {
        JobOutcome::Succeeded(_) => ("succeeded", None),
        JobOutcome::Retry { error, .. } => ("retry", Some(error)),
        JobOutcome::Dead(error) => ("dead", Some(error)),
        JobOutcome::Release { .. } => return,
    };
    let took_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    let run = ScheduleRun {
        job: job.id.clone(),
        attempt: job.attempt,
        // A tick's job is keyed by its tick; a run asked for by hand has no key.
        manual: job.idempotency_key.is_none(),
        started_at_ms: crate::clock::now_ms() - i64::try_from(took_ms).unwrap_or(0),
        duration_ms: took_ms,
        outcome: label.to_string(),
        error: error.and_then(|e| serde_json::from_str(e).ok()),
    };
    if let Err(e) = record(store, &job.adapter, schedule, run).await {
        tracing::warn!(job = %job.id, schedule, "schedule run not added to its history: {e}");
    }
}
