//! Partial success on PostgreSQL.

use super::PgStore;

crate::store::items::impl_item_store!(PgStore, pool);
