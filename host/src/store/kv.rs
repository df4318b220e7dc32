//! An adapter's key-value namespace (the `storage` interface).

use super::StoreError;
use async_trait::async_trait;

/// The key-value namespaces the host keeps for itself, spelled in one place. Each starts with
/// a control character, which no adapter's name (its namespace) can hold, so no adapter can
/// read or write them through `storage`.
pub mod host_namespace {
    /// The host's own facts (the store's id, deployment secrets).
    pub const META: &str = "\u{1f}weft/meta";
    /// Paused adapters.
    pub const PAUSED: &str = "\u{1f}weft/paused";
    /// API tokens.
    pub const API_TOKENS: &str = "\u{1f}weft/api-tokens";
    /// Console sessions.
    pub const CONSOLE_SESSIONS: &str = "\u{1f}weft/console-sessions";
    /// The last manual run of each schedule.
    pub const SCHEDULE_RUNS: &str = "\u{1f}weft/schedule-runs";
    /// Each schedule's last runs (its history), under `ADAPTER/SCHEDULE`.
    pub const SCHEDULE_HISTORY: &str = "\u{1f}weft/schedule-history";
    /// Paused schedules, under `ADAPTER/SCHEDULE`.
    pub const PAUSED_SCHEDULES: &str = "\u{1f}weft/paused-schedules";

    /// The signatures `adapter`'s inbound routes accepted lately (replay protection).
    pub fn replay(adapter: &str) -> String {
        format!("\u{1f}weft/replay/{adapter}")
    }
}

/// What one namespace of the key-value table holds (see [`KvStore::kv_usage`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvUsage {
    /// Keys.
    pub keys: u64,
    /// Bytes of keys and values together.
    pub bytes: u64,
    /// Bytes of the key asked about and its value, if it is set.
    pub existing: Option<u64>,
}

impl KvUsage {
    /// Reads `(keys, bytes, existing)` from the first three columns of a usage query, whichever
    /// database answered it.
    pub(crate) fn from_row<R: sqlx::Row>(row: &R) -> Result<Self, StoreError>
    where
        usize: sqlx::ColumnIndex<R>,
        i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let existing: Option<i64> = row.try_get(2)?;
        Ok(Self {
            keys: count(row.try_get(0)?),
            bytes: count(row.try_get(1)?),
            existing: existing.map(count),
        })
    }
}

/// An adapter's key-value namespace (the `storage` interface).
#[async_trait]
pub trait KvStore: Send + Sync {
    /// Reads `key` of namespace `ns`, unless it has expired.
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Writes `key` of `ns`, never to expire.
    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.kv_set_until(ns, key, value, None).await
    }

    /// Writes `key` of `ns`, to expire at `until` (Unix ms; `None`: never). An expired key is
    /// absent to every read, list, swap and usage count, and [`KvStore::kv_expire`] deletes it.
    async fn kv_set_until(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        until: Option<i64>,
    ) -> Result<(), StoreError>;

    /// Deletes `key` of `ns`; true if it existed and had not expired.
    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError>;

    /// Live keys of `ns` starting with `prefix`, after `after`, in byte order, at most `limit`.
    async fn kv_list(
        &self,
        ns: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;

    /// What namespace `ns` holds: its keys, their bytes (keys and values), and the bytes of
    /// `key` if it is set (a write replacing it frees those).
    async fn kv_usage(&self, ns: &str, key: &str) -> Result<KvUsage, StoreError>;

    /// Atomically replaces `expected` by `new` (`None`: absent or expired); true if it did.
    /// The value written never expires.
    async fn kv_cas(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        self.kv_cas_until(ns, key, expected, new, None).await
    }

    /// [`KvStore::kv_cas`], the value written to expire at `until` (Unix ms; `None`: never).
    async fn kv_cas_until(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
        until: Option<i64>,
    ) -> Result<bool, StoreError>;

    /// Deletes at most `limit` keys (of any namespace) expired by `now_ms`; answers how many.
    async fn kv_expire(&self, now_ms: i64, limit: u32) -> Result<u64, StoreError>;
}

/// Writes [`KvStore`] for a backend: `$store`, reading through its pool `$read` (SQLite keeps
/// readers apart from its one writer) and writing through `pool`, with `$usage` its dialect of
/// the usage query (binds the key, the namespace, then the time before which a key has expired). Every other statement is the shared
/// SQL of `store::sql`, so the Rust around it is written once for both.
macro_rules! impl_kv_store {
    ($store:ty, $read:ident, $usage:expr) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;
            use $crate::clock::now_ms;
            use $crate::store::{KvStore, KvUsage, StoreError, sql};

            #[async_trait]
            impl KvStore for $store {
                async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
                    let row = sqlx::query(sql::KV_GET)
                        .bind(ns)
                        .bind(key)
                        .bind(now_ms())
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(row.map(|r| r.get::<Vec<u8>, _>(0)))
                }

                async fn kv_set_until(
                    &self,
                    ns: &str,
                    key: &str,
                    value: &[u8],
                    until: Option<i64>,
                ) -> Result<(), StoreError> {
                    sqlx::query(sql::KV_SET)
                        .bind(ns)
                        .bind(key)
                        .bind(value)
                        .bind(until)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn kv_usage(&self, ns: &str, key: &str) -> Result<KvUsage, StoreError> {
                    let row = sqlx::query($usage)
                        .bind(key)
                        .bind(ns)
                        .bind(now_ms())
                        .fetch_one(&self.$read)
                        .await?;
                    KvUsage::from_row(&row)
                }

                async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError> {
                    let done = sqlx::query(sql::KV_DELETE)
                        .bind(ns)
                        .bind(key)
                        .bind(now_ms())
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
                    let rows = sqlx::query(sql::KV_LIST)
                        .bind(ns)
                        .bind(sql::like_prefix(prefix))
                        .bind(after.unwrap_or(""))
                        .bind(i64::from(limit))
                        .bind(now_ms())
                        .fetch_all(&self.$read)
                        .await?;
                    Ok(rows.into_iter().map(|r| r.get::<String, _>(0)).collect())
                }

                async fn kv_cas_until(
                    &self,
                    ns: &str,
                    key: &str,
                    expected: Option<&[u8]>,
                    new: Option<&[u8]>,
                    until: Option<i64>,
                ) -> Result<bool, StoreError> {
                    let now = now_ms();
                    // Each case is one statement, so the check and the write are atomic.
                    let affected = match (expected, new) {
                        (None, Some(new)) => sqlx::query(sql::KV_CREATE)
                            .bind(ns)
                            .bind(key)
                            .bind(new)
                            .bind(until)
                            .bind(now)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                        (Some(old), Some(new)) => sqlx::query(sql::KV_SWAP)
                            .bind(new)
                            .bind(until)
                            .bind(ns)
                            .bind(key)
                            .bind(old)
                            .bind(now)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                        (Some(old), None) => sqlx::query(sql::KV_DELETE_IF)
                            .bind(ns)
                            .bind(key)
                            .bind(old)
                            .bind(now)
                            .execute(&self.pool)
                            .await?
                            .rows_affected(),
                        (None, None) => {
                            let exists: i64 = sqlx::query_scalar(sql::KV_EXISTS)
                                .bind(ns)
                                .bind(key)
                                .bind(now)
                                .fetch_one(&self.$read)
                                .await?;
                            u64::from(exists == 0)
                        }
                    };
                    Ok(affected == 1)
                }

                async fn kv_expire(&self, now: i64, limit: u32) -> Result<u64, StoreError> {
                    let done = sqlx::query(sql::KV_EXPIRE)
                        .bind(now)
                        .bind(i64::from(limit))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(crate) use impl_kv_store;
