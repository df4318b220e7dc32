//! Job retention: finished jobs pruned after `--job-retention`, succeeded schedule ticks
//! after `--tick-retention`, the durable steps and journals of calls whose job is gone, and
//! each adapter's journals past its `[journal] max_calls`, and storage keys past their time to
//! live, a few hundred per statement so that no transaction holds the queue for long.

use crate::clock::{ms, now_ms};
use crate::runtime::Runtime;
use std::sync::Arc;
use std::time::Duration;

/// How many finished jobs one retention pass deletes per statement.
const PRUNE_BATCH: u32 = 500;

/// Prunes finished jobs older than `retention` every `every`, in batches; dropping it stops.
pub struct Retention {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Retention {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Retention {
    /// Deletes finished jobs (succeeded, dead, cancelled) last changed more than `retention`
    /// ago, in batches of a few hundred so that no transaction holds the queue for long;
    /// returns how many.
    pub async fn prune(
        runtime: &Runtime,
        retention: Duration,
    ) -> Result<u64, crate::store::StoreError> {
        Self::prune_with(runtime, retention, retention).await
    }

    /// Like [`Retention::prune`], with succeeded schedule ticks kept only for
    /// `tick_retention`: a per-second schedule makes 86,400 of them a day per adapter, and a
    /// tick that succeeded has nothing to show that the schedule's own status does not.
    pub async fn prune_with(
        runtime: &Runtime,
        retention: Duration,
        tick_retention: Duration,
    ) -> Result<u64, crate::store::StoreError> {
        let store = &runtime.shared().store;
        let mut total = 0;
        let ticks_before = now_ms().saturating_sub(ms(tick_retention));
        loop {
            let n = store
                .job_prune_succeeded(crate::jobs::JOB_PREFIX, ticks_before, PRUNE_BATCH)
                .await?;
            total += n;
            runtime.shared().metrics.jobs_pruned.inc_by(n);
            if n < u64::from(PRUNE_BATCH) {
                break;
            }
            tokio::task::yield_now().await;
        }
        let before = now_ms().saturating_sub(ms(retention));
        loop {
            let n = store.job_prune(before, PRUNE_BATCH).await?;
            total += n;
            runtime.shared().metrics.jobs_pruned.inc_by(n);
            if n < u64::from(PRUNE_BATCH) {
                break;
            }
            // Let the queue's own statements in between batches.
            tokio::task::yield_now().await;
        }
        // Steps go with their job; a call that was no job keeps them for the shorter of the
        // two retentions (its retries are over within its `limits.timeout`).
        let steps_before = now_ms().saturating_sub(ms(retention.min(tick_retention)));
        while store.step_prune(steps_before, PRUNE_BATCH).await? >= u64::from(PRUNE_BATCH) {
            tokio::task::yield_now().await;
        }
        // What became of a call's items too.
        while store.items_prune(steps_before, PRUNE_BATCH).await? >= u64::from(PRUNE_BATCH) {
            tokio::task::yield_now().await;
        }
        // Journals too; and each adapter keeps at most its `[journal] max_calls`.
        while store.journal_prune(steps_before, PRUNE_BATCH).await? >= u64::from(PRUNE_BATCH) {
            tokio::task::yield_now().await;
        }
        // Expired storage keys are already absent to every read; this frees their room.
        while store.kv_expire(now_ms(), PRUNE_BATCH).await? >= u64::from(PRUNE_BATCH) {
            tokio::task::yield_now().await;
        }
        for name in runtime.registry().names() {
            let Some(adapter) = runtime.registry().get(&name) else {
                continue;
            };
            let keep = adapter.manifest.journal.max_calls;
            while store.journal_trim(&name, keep, PRUNE_BATCH).await? >= u64::from(PRUNE_BATCH) {
                tokio::task::yield_now().await;
            }
        }
        Ok(total)
    }

    /// Starts pruning finished jobs older than `retention`, once now and then every `every`.
    pub fn start(runtime: &Arc<Runtime>, retention: Duration, every: Duration) -> Self {
        Self::start_with(runtime, retention, retention, every)
    }

    /// Like [`Retention::start`], with succeeded schedule ticks kept for
    /// `tick_retention` only.
    pub fn start_with(
        runtime: &Arc<Runtime>,
        retention: Duration,
        tick_retention: Duration,
        every: Duration,
    ) -> Retention {
        let rt = runtime.clone();
        let task = tokio::spawn(async move {
            loop {
                match Self::prune_with(&rt, retention, tick_retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "finished jobs past their retention pruned"),
                    Err(e) => {
                        tracing::warn!("job retention could not run (tried again later): {e}")
                    }
                }
                tokio::time::sleep(every).await;
            }
        });
        Retention { task }
    }
}
