//! The exchange journal on SQLite.

use super::SqliteStore;

crate::store::journal::impl_journal_store!(SqliteStore, reader);
