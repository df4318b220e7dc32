//! The queue beyond claims on PostgreSQL: each adapter's oldest queued job (the lag it sees,
//! [`crate::store::JobStore::job_oldest_queued`]) and the pruning of succeeded schedule ticks
//! ([`crate::store::JobStore::job_prune_succeeded`]).

use super::PgStore;
use crate::store::{JobState, StoreError};
use sqlx::Row;

impl PgStore {
    pub(super) async fn counts(&self) -> Result<Vec<(String, JobState, i64)>, StoreError> {
        let rows = sqlx::query(crate::store::sql::JOB_COUNTS)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                JobState::parse(r.get::<&str, _>(1))
                    .map(|s| (r.get::<String, _>(0), s, r.get::<i64, _>(2)))
            })
            .collect())
    }

    pub(super) async fn oldest_queued(
        &self,
        adapters: &[String],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT s.adapter, LEAST((SELECT min(run_at_ms) FROM jobs WHERE jobs.adapter = s.adapter AND state = 'queued' AND priority = 0), \
                                     (SELECT min(run_at_ms) FROM jobs WHERE jobs.adapter = s.adapter AND state = 'queued' AND priority = 1)) \
             FROM UNNEST($1::text[]) AS s(adapter)",
        )
        .bind(adapters)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(a, at)| at.map(|at| (a, at)))
            .collect())
    }

    pub(super) async fn prune_succeeded(
        &self,
        op_prefix: &str,
        before_ms: i64,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(crate::store::sql::JOB_PRUNE_SUCCEEDED)
            .bind(before_ms)
            .bind(crate::store::sql::like_prefix(op_prefix))
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
