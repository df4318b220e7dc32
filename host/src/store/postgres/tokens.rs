//! Sealed token grants on PostgreSQL, with an advisory lock around each fetch so that one node
//! of a cluster fetches while the others wait for its grant.

use super::{PgLock, PgStore};
use crate::store::StoreLock;

crate::store::tokens::impl_token_store!(
    PgStore,
    pool,
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
);
