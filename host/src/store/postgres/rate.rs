//! Rate budgets on PostgreSQL.

use super::PgStore;
use crate::store::{RateStore, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl RateStore for PgStore {
    async fn rate_acquire(
        &self,
        key: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO rates (key, next_ms) VALUES ($1, $2 + $3) ON CONFLICT (key) DO UPDATE SET next_ms = GREATEST(rates.next_ms, $2) + $3 RETURNING next_ms - $3",
        )
        .bind(key)
        .bind(now_ms)
        .bind(interval_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0))
    }

    async fn rate_booked_until(&self, keys: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        Ok(
            sqlx::query_as("SELECT key, next_ms FROM rates WHERE key = ANY($1)")
                .bind(keys)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}
