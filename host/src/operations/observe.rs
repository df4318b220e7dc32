//! What `/readyz` and `/metrics` ask of the store: a small write within a bound, and the job
//! counts, queue lags, store errors, pauses and token expiries the metrics show.

use super::{Operations, Over};
use crate::metrics::AdapterLabels;
use std::time::Duration;

/// How often a scrape of `/metrics` counts the jobs table at most.
const JOB_COUNT_EVERY: Duration = Duration::from_secs(1);

impl Operations {
    /// `Ok` when the store takes a small write within `within`; otherwise what is wrong, in
    /// words an operator acts on.
    pub async fn store_ready(&self, within: Duration) -> Result<(), String> {
        // Bounded: a hung store must make the probe answer "not ready", not hang with it.
        match tokio::time::timeout(within, crate::store::probe(self.store.as_ref())).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "the store did not answer a small write within {within:?}"
            )),
        }
    }

    /// Brings the runtime's store-backed metrics up to date before a scrape: job counts and
    /// queue lags (at most once a [`JOB_COUNT_EVERY`]), store errors, paused adapters and
    /// token expiries. A figure the store cannot give keeps its last value.
    pub async fn refresh_metrics(&self) {
        let Over::Runtime(runtime) = &self.over else {
            return;
        };
        let metrics = runtime.metrics();
        let names = runtime.registry().names();
        if metrics.job_counts_due(JOB_COUNT_EVERY) {
            if let Ok(counts) = self.job_counts().await {
                metrics.set_job_counts(counts.rows());
            }
            if let Ok(lags) = self.queue_lags(&names).await {
                for (adapter, lag) in lags {
                    metrics
                        .queue_lag
                        .get_or_create(&AdapterLabels { adapter })
                        .set(lag);
                }
            }
        }
        if let Some(health) = self.store.health() {
            metrics.set_store_errors(&health.counts());
        }
        let paused = self.paused().await;
        for name in &names {
            metrics
                .adapter_paused
                .get_or_create(&AdapterLabels {
                    adapter: name.clone(),
                })
                .set(i64::from(paused.contains_key(name)));
        }
        let statuses = runtime.adapters();
        metrics.refresh(statuses.iter().map(|s| (s.name.as_str(), s.status)));
        for name in names {
            if let Ok(Some(grant)) = self.store.token_load(&name, "").await
                && grant.token.is_some()
            {
                metrics
                    .token_expiry
                    .get_or_create(&AdapterLabels { adapter: name })
                    .set(grant.expires_at_ms / 1000);
            }
        }
    }
}
