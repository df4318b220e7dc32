//! Partial success on SQLite.

use super::SqliteStore;

crate::store::items::impl_item_store!(SqliteStore, reader);
