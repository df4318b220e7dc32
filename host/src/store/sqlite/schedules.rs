//! Schedule ticks on SQLite.

use super::SqliteStore;
use crate::store::{ScheduleStore, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl ScheduleStore for SqliteStore {
    async fn schedule_claim(
        &self,
        adapter: &str,
        name: &str,
        tick_ms: i64,
        now_ms: i64,
        running_until_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query(crate::store::sql::SCHEDULE_CREATE)
            .bind(adapter)
            .bind(name)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(crate::store::sql::SCHEDULE_CLAIM)
            .bind(tick_ms)
            .bind(running_until_ms)
            .bind(adapter)
            .bind(name)
            .bind(tick_ms)
            .bind(now_ms)
            .bind(adapter)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0)))
    }

    async fn schedule_done(
        &self,
        adapter: &str,
        name: &str,
        tick_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(crate::store::sql::SCHEDULE_DONE)
            .bind(adapter)
            .bind(name)
            .bind(tick_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn schedule_last(&self, adapter: &str, name: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(crate::store::sql::SCHEDULE_LAST)
            .bind(adapter)
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0)).filter(|t| *t > 0))
    }
}
