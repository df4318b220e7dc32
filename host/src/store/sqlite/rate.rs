//! Rate budgets on SQLite.

use super::SqliteStore;
use crate::store::{RateStore, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl RateStore for SqliteStore {
    async fn rate_acquire(
        &self,
        key: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO rates (key, next_ms) VALUES (?, ? + ?) ON CONFLICT (key) DO UPDATE SET next_ms = max(rates.next_ms, ?) + ? RETURNING next_ms - ?",
        )
        .bind(key)
        .bind(now_ms)
        .bind(interval_ms)
        .bind(now_ms)
        .bind(interval_ms)
        .bind(interval_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0))
    }

    async fn rate_booked_until(&self, keys: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT key, next_ms FROM rates WHERE key IN (",
        );
        let mut list = q.separated(", ");
        for key in keys {
            list.push_bind(key.as_str());
        }
        q.push(")");
        Ok(q.build_query_as().fetch_all(&self.reader).await?)
    }
}
