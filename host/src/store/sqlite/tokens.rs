//! Sealed token grants on SQLite (one process owns the file, so no cluster-wide lock).

use super::SqliteStore;
use crate::store::{StoreError, StoredGrant, TokenStore};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl TokenStore for SqliteStore {
    async fn token_load(
        &self,
        adapter: &str,
        scope: &str,
    ) -> Result<Option<StoredGrant>, StoreError> {
        let row = sqlx::query(crate::store::sql::TOKEN_GET)
            .bind(adapter)
            .bind(scope)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| StoredGrant {
            token: r.get(0),
            expires_at_ms: r.get(1),
            fetched_at_ms: r.get(2),
            last_attempt_ms: r.get(3),
            credentials: r.get(4),
            version: r.get(5),
        }))
    }

    async fn token_store(
        &self,
        adapter: &str,
        scope: &str,
        grant: &StoredGrant,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = match expected_version {
            None => {
                sqlx::query(crate::store::sql::TOKEN_CREATE)
                    .bind(adapter)
                    .bind(scope)
                    .bind(&grant.token)
                    .bind(grant.expires_at_ms)
                    .bind(grant.fetched_at_ms)
                    .bind(grant.last_attempt_ms)
                    .bind(&grant.credentials)
                    .bind(grant.version)
                    .execute(&self.pool)
                    .await?
            }
            Some(expected) => {
                sqlx::query(crate::store::sql::TOKEN_SWAP)
                    .bind(&grant.token)
                    .bind(grant.expires_at_ms)
                    .bind(grant.fetched_at_ms)
                    .bind(grant.last_attempt_ms)
                    .bind(&grant.credentials)
                    .bind(grant.version)
                    .bind(adapter)
                    .bind(scope)
                    .bind(expected)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(done.rows_affected() == 1)
    }

    async fn token_invalidate(
        &self,
        adapter: &str,
        scope: &str,
        token: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(crate::store::sql::TOKEN_DROP)
            .bind(adapter)
            .bind(scope)
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
