//! The embedded store: one SQLite file under the data directory, nothing to install.

use super::{Store, StoreError, StoredGrant, like_prefix};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// SQLite-backed [`Store`].
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `weft.db` in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("weft.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT value FROM kv WHERE ns = ? AND key = ?")
            .bind(ns)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<Vec<u8>, _>(0)))
    }

    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value")
            .bind(ns)
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM kv WHERE ns = ? AND key = ?")
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
        let rows = sqlx::query(
            "SELECT key FROM kv WHERE ns = ? AND key LIKE ? ESCAPE '\\' AND key > ? ORDER BY key LIMIT ?",
        )
        .bind(ns)
        .bind(like_prefix(prefix))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
            (None, Some(new)) => sqlx::query(
                "INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO NOTHING",
            )
            .bind(ns)
            .bind(key)
            .bind(new)
            .execute(&self.pool)
            .await?
            .rows_affected(),
            (Some(old), Some(new)) => {
                sqlx::query("UPDATE kv SET value = ? WHERE ns = ? AND key = ? AND value = ?")
                    .bind(new)
                    .bind(ns)
                    .bind(key)
                    .bind(old)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
            }
            (Some(old), None) => {
                sqlx::query("DELETE FROM kv WHERE ns = ? AND key = ? AND value = ?")
                    .bind(ns)
                    .bind(key)
                    .bind(old)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
            }
            (None, None) => {
                let exists: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM kv WHERE ns = ? AND key = ?")
                        .bind(ns)
                        .bind(key)
                        .fetch_one(&self.pool)
                        .await?;
                u64::from(exists == 0)
            }
        };
        Ok(affected == 1)
    }

    async fn token_load(
        &self,
        adapter: &str,
        scope: &str,
    ) -> Result<Option<StoredGrant>, StoreError> {
        let row = sqlx::query(
            "SELECT token, expires_at_ms, fetched_at_ms, last_attempt_ms, credentials, version FROM tokens WHERE adapter = ? AND scope = ?",
        )
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
            None => sqlx::query(
                "INSERT INTO tokens (adapter, scope, token, expires_at_ms, fetched_at_ms, last_attempt_ms, credentials, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (adapter, scope) DO NOTHING",
            )
            .bind(adapter)
            .bind(scope)
            .bind(&grant.token)
            .bind(grant.expires_at_ms)
            .bind(grant.fetched_at_ms)
            .bind(grant.last_attempt_ms)
            .bind(&grant.credentials)
            .bind(grant.version)
            .execute(&self.pool)
            .await?,
            Some(expected) => sqlx::query(
                "UPDATE tokens SET token = ?, expires_at_ms = ?, fetched_at_ms = ?, last_attempt_ms = ?, credentials = ?, version = ? WHERE adapter = ? AND scope = ? AND version = ?",
            )
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
            .await?,
        };
        Ok(done.rows_affected() == 1)
    }

    async fn token_invalidate(
        &self,
        adapter: &str,
        scope: &str,
        token: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tokens SET token = NULL, version = version + 1 WHERE adapter = ? AND scope = ? AND token = ?",
        )
        .bind(adapter)
        .bind(scope)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
