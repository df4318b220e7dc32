//! Schedule ticks on SQLite.

use super::SqliteStore;

crate::store::schedules::impl_schedule_store!(SqliteStore, reader);
