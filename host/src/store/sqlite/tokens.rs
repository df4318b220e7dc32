//! Sealed token grants on SQLite (one process owns the file, so no cluster-wide lock).

use super::SqliteStore;

crate::store::tokens::impl_token_store!(SqliteStore, reader);
