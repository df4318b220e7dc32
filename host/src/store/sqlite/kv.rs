//! An adapter's key-value namespace on SQLite.

use super::SqliteStore;

crate::store::kv::impl_kv_store!(
    SqliteStore,
    reader,
    "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(value)), 0), MAX(CASE WHEN key = ? THEN LENGTH(CAST(key AS BLOB)) + LENGTH(value) END) FROM kv WHERE ns = ? AND (expires_at_ms IS NULL OR expires_at_ms > ?)"
);
