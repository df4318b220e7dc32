//! An adapter's key-value namespace (the `storage` interface).

use super::StoreError;
use async_trait::async_trait;

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
    /// Reads `key` of namespace `ns`.
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Writes `key` of `ns`.
    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// Deletes `key` of `ns`; true if it existed.
    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError>;

    /// Keys of `ns` starting with `prefix`, after `after`, in byte order, at most `limit`.
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

    /// Atomically replaces `expected` by `new` (`None`: absent); true if it did.
    async fn kv_cas(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError>;
}
