//! Sealed token grants on PostgreSQL, with an advisory lock around each fetch so that one node
//! of a cluster fetches while the others wait for its grant.

use super::{PgLock, PgStore};
use crate::store::{StoreError, StoreLock, StoredGrant, TokenStore};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl TokenStore for PgStore {
    async fn token_load(
        &self,
        adapter: &str,
        scope: &str,
    ) -> Result<Option<StoredGrant>, StoreError> {
        let row = sqlx::query(crate::store::sql::TOKEN_GET)
            .bind(adapter)
            .bind(scope)
            .fetch_optional(&self.pool)
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

    async fn token_lock(
        &self,
        adapter: &str,
        scope: &str,
    ) -> Result<Option<Box<dyn StoreLock>>, StoreError> {
        let key = format!(
            "weft-token\u{1f}{}\u{1f}{adapter}\u{1f}{scope}",
            self.schema
        );
        let mut conn = self.pool.acquire().await?;
        // Waiting for the lock is waiting for another node's fetch, not a statement that
        // hangs: the caller bounds it by its deadline, and the release restores the bound.
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut *conn)
            .await?;
        sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
            .bind(&key)
            .execute(&mut *conn)
            .await?;
        Ok(Some(Box::new(PgLock {
            conn: Some(conn),
            key,
        })))
    }
}
