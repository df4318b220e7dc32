//! The queue beyond claims on PostgreSQL: each adapter's oldest queued job (the lag it sees,
//! [`crate::store::JobStore::job_oldest_queued`]).

use super::PgStore;
use crate::store::StoreError;

impl PgStore {
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
}
