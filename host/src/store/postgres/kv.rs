//! An adapter's key-value namespace on PostgreSQL.

use super::PgStore;

crate::store::kv::impl_kv_store!(
    PgStore,
    pool,
    "SELECT COUNT(*), COALESCE(SUM(OCTET_LENGTH(key) + OCTET_LENGTH(value)), 0)::BIGINT, MAX(CASE WHEN key = $1 THEN (OCTET_LENGTH(key) + OCTET_LENGTH(value))::BIGINT END) FROM kv WHERE ns = $2 AND (expires_at_ms IS NULL OR expires_at_ms > $3)"
);
