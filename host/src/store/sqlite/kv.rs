//! An adapter's key-value namespace on SQLite.

use super::SqliteStore;
use crate::store::{KvStore, KvUsage, StoreError};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl KvStore for SqliteStore {
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query(crate::store::sql::KV_GET)
            .bind(ns)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.get::<Vec<u8>, _>(0)))
    }

    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        sqlx::query(crate::store::sql::KV_SET)
            .bind(ns)
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn kv_usage(&self, ns: &str, key: &str) -> Result<KvUsage, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(value)), 0), MAX(CASE WHEN key = ? THEN LENGTH(CAST(key AS BLOB)) + LENGTH(value) END) FROM kv WHERE ns = ?",
        )
        .bind(key)
        .bind(ns)
        .fetch_one(&self.reader)
        .await?;
        KvUsage::from_row(&row)
    }

    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(crate::store::sql::KV_DELETE)
            .bind(ns)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn kv_list(
        &self,
        ns: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(crate::store::sql::KV_LIST)
            .bind(ns)
            .bind(crate::store::sql::like_prefix(prefix))
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.into_iter().map(|r| r.get::<String, _>(0)).collect())
    }

    async fn kv_cas(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        // Each case is one statement, so the check and the write are atomic.
        let affected = match (expected, new) {
            (None, Some(new)) => sqlx::query(crate::store::sql::KV_CREATE)
                .bind(ns)
                .bind(key)
                .bind(new)
                .execute(&self.pool)
                .await?
                .rows_affected(),
            (Some(old), Some(new)) => sqlx::query(crate::store::sql::KV_SWAP)
                .bind(new)
                .bind(ns)
                .bind(key)
                .bind(old)
                .execute(&self.pool)
                .await?
                .rows_affected(),
            (Some(old), None) => sqlx::query(crate::store::sql::KV_DELETE_IF)
                .bind(ns)
                .bind(key)
                .bind(old)
                .execute(&self.pool)
                .await?
                .rows_affected(),
            (None, None) => {
                let exists: i64 = sqlx::query_scalar(crate::store::sql::KV_EXISTS)
                    .bind(ns)
                    .bind(key)
                    .fetch_one(&self.pool)
                    .await?;
                u64::from(exists == 0)
            }
        };
        Ok(affected == 1)
    }
}
