//! Retention of schedule ticks on SQLite: see
//! [`crate::store::JobStore::job_prune_succeeded`].

use super::SqliteStore;
use crate::store::StoreError;

impl SqliteStore {
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
