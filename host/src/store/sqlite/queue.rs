//! The queue beyond claims on SQLite: each adapter's oldest queued job (the lag it sees,
//! [`crate::store::JobStore::job_oldest_queued`]).

use super::SqliteStore;
use crate::store::StoreError;

impl SqliteStore {
    pub(super) async fn oldest_queued(
        &self,
        adapters: &[String],
    ) -> Result<Vec<(String, i64)>, StoreError> {
        if adapters.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("WITH s (adapter) AS (");
        q.push_values(adapters.iter(), |mut row, a| {
            row.push_bind(a.as_str());
        });
        q.push(
            ") SELECT s.adapter, (SELECT min(at) FROM (SELECT (SELECT min(run_at_ms) FROM jobs INDEXED BY jobs_adapter_queue WHERE jobs.adapter = s.adapter AND state = 'queued' AND priority = 0) AS at \
             UNION ALL SELECT (SELECT min(run_at_ms) FROM jobs INDEXED BY jobs_adapter_queue WHERE jobs.adapter = s.adapter AND state = 'queued' AND priority = 1))) FROM s",
        );
        let rows: Vec<(String, Option<i64>)> = q.build_query_as().fetch_all(&self.reader).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(a, at)| at.map(|at| (a, at)))
            .collect())
    }
}
