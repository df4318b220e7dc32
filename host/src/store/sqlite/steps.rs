//! Durable steps on SQLite.

use super::SqliteStore;

crate::store::steps::impl_step_store!(SqliteStore, reader);
