//! Jobs as an operator handles them: one job, a page of them, the counts and queues, retry and
//! cancel, and retrying every dead job at once.

use super::{Operations, Over};
use crate::jobs::{JobChange, cancel, retry, retry_attempts};
use crate::store::{JobFilter, JobRecord, JobState, StoreError};
use std::collections::BTreeMap;

/// Jobs one page of a bulk retry's listing reads.
const BULK_PAGE: u32 = 500;

/// The number of jobs of each adapter in each state, as one count of the store read them.
#[derive(Debug, Clone, Default)]
pub struct JobCounts(Vec<(String, JobState, i64)>);

impl JobCounts {
    /// Jobs of `adapter` (every adapter: `None`) in `state`.
    pub fn count(&self, adapter: Option<&str>, state: JobState) -> i64 {
        self.0
            .iter()
            .filter(|(a, s, _)| *s == state && adapter.is_none_or(|want| want == a))
            .map(|(_, _, n)| *n)
            .sum()
    }

    /// The adapters that have jobs, in order.
    pub fn adapters(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.0.iter().map(|(a, _, _)| a.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Every (adapter, state, count), as the metrics take them.
    pub fn rows(&self) -> &[(String, JobState, i64)] {
        &self.0
    }
}

/// One adapter's queue as every node sees it; a figure the store could not give is `None`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Queue {
    /// Jobs waiting (due or not).
    pub queued: Option<i64>,
    /// Jobs an attempt holds.
    pub running: Option<i64>,
    /// How long its oldest queued job has been due, in seconds (0: none is).
    pub lag_seconds: Option<i64>,
}

impl Operations {
    /// One job, as the store has it.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.store.job_get(id).await
    }

    /// Job `id` as an operator reads it (`GET /v1/jobs/{id}`, `weft jobs show`): its record,
    /// and `items` — what became of its items — when its adapter reported any.
    pub async fn job_shown(&self, id: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let Some(job) = self.store.job_get(id).await? else {
            return Ok(None);
        };
        let mut shown = serde_json::to_value(&job).unwrap_or_default();
        if let Some(items) = self.items(id).await? {
            shown["items"] = serde_json::to_value(items).unwrap_or_default();
        }
        Ok(Some(shown))
    }

    /// What became of call `call_id`'s items (a job's id for a job), when it reported any.
    pub async fn items(&self, call_id: &str) -> Result<Option<crate::items::Tally>, StoreError> {
        Ok(self
            .store
            .items_get(call_id)
            .await?
            .map(|row| crate::items::Tally::from_row(&row)))
    }

    /// Up to `limit` jobs that `filter` selects, newest first (a page of `GET /v1/jobs`, the
    /// console's lists and `weft jobs list`).
    pub async fn jobs(
        &self,
        filter: &JobFilter<'_>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.store.job_page(filter, limit).await
    }

    /// Up to `limit` queued jobs (of `adapter`, if named) that failed an attempt and will be
    /// tried again, newest first.
    pub async fn failing(
        &self,
        adapter: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let filter = JobFilter {
            state: Some(JobState::Queued),
            adapter,
            ..JobFilter::default()
        };
        Ok(self
            .store
            .job_page(&filter, limit.saturating_mul(2))
            .await?
            .into_iter()
            .filter(|j| j.last_error.is_some())
            .take(limit as usize)
            .collect())
    }

    /// The jobs of each adapter in each state.
    pub async fn job_counts(&self) -> Result<JobCounts, StoreError> {
        Ok(JobCounts(self.store.job_counts().await?))
    }

    /// The queue of each of `names`: depth and running jobs from the store's counts, lag from
    /// one index seek each.
    pub async fn queues(&self, names: &[String]) -> BTreeMap<String, Queue> {
        let counts = self.job_counts().await.ok();
        let lags = self.queue_lags(names).await.ok();
        names
            .iter()
            .map(|name| {
                let queue = Queue {
                    queued: counts
                        .as_ref()
                        .map(|c| c.count(Some(name), JobState::Queued)),
                    running: counts
                        .as_ref()
                        .map(|c| c.count(Some(name), JobState::Running)),
                    lag_seconds: lags
                        .as_ref()
                        .map(|l| l.get(name).copied().unwrap_or_default()),
                };
                (name.clone(), queue)
            })
            .collect()
    }

    /// How long, in seconds, the oldest queued job of each of `names` has been due (0: none).
    pub async fn queue_lags(&self, names: &[String]) -> Result<BTreeMap<String, i64>, StoreError> {
        let oldest = self.store.job_oldest_queued(names).await?;
        let now = crate::clock::now_ms();
        Ok(names
            .iter()
            .map(|name| {
                let lag = oldest
                    .iter()
                    .find(|(a, _)| a == name)
                    .map_or(0, |(_, due)| (now - due).max(0) / 1000);
                (name.clone(), lag)
            })
            .collect())
    }

    /// Cancels a queued or dead job: it never runs (again).
    pub async fn cancel(&self, id: &str) -> Result<JobChange, StoreError> {
        cancel(self.store.as_ref(), id).await
    }

    /// Puts a dead job back in the queue with `attempts` more attempts; `None`: its adapter's
    /// `[retry] max_attempts` (the default policy's when the adapter is unknown).
    pub async fn retry(&self, id: &str, attempts: Option<u32>) -> Result<JobChange, StoreError> {
        let Some(job) = self.store.job_get(id).await? else {
            return Ok(JobChange::NotFound);
        };
        let attempts = match attempts {
            Some(n) => n,
            None => self.retry_attempts(&job.adapter),
        };
        let change = retry(self.store.as_ref(), id, attempts).await?;
        if change == JobChange::Done {
            self.wake();
        }
        Ok(change)
    }

    /// Retries every dead job (of `adapter`, if named), at most `max`; answers how many were
    /// queued again.
    pub async fn retry_dead(&self, adapter: Option<&str>, max: usize) -> Result<usize, StoreError> {
        // The dead jobs are listed first and changed after: retried jobs leave the "dead" state
        // as they are changed, so paging while changing would skip some.
        let mut dead: Vec<(String, String)> = Vec::new();
        let mut after: Option<(i64, String)> = None;
        while dead.len() < max {
            let filter = JobFilter {
                state: Some(JobState::Dead),
                adapter,
                after: after.as_ref().map(|(t, id)| (*t, id.as_str())),
                ..JobFilter::default()
            };
            let page = self.store.job_page(&filter, BULK_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some((last.created_at_ms, last.id.clone()));
            let full = page.len() == BULK_PAGE as usize;
            dead.extend(page.into_iter().map(|j| (j.id, j.adapter)));
            if !full {
                break;
            }
        }
        dead.truncate(max);
        let mut attempts: BTreeMap<String, u32> = BTreeMap::new();
        let mut queued = 0;
        for (id, adapter) in &dead {
            let n = *attempts
                .entry(adapter.clone())
                .or_insert_with(|| self.retry_attempts(adapter));
            if retry(self.store.as_ref(), id, n).await? == JobChange::Done {
                queued += 1;
            }
        }
        if queued > 0 {
            self.wake();
        }
        Ok(queued)
    }

    /// The attempts a retried job of `adapter` gets: its `[retry] max_attempts` as loaded (a
    /// runtime) or as its manifest says (the store alone).
    fn retry_attempts(&self, adapter: &str) -> u32 {
        match &self.over {
            Over::Runtime(runtime) => {
                let loaded = runtime.registry().get(adapter);
                retry_attempts(loaded.as_ref().map(|a| &a.manifest))
            }
            Over::Store { manifests, .. } => {
                retry_attempts(crate::manifest::named(manifests, adapter).as_ref())
            }
        }
    }
}
