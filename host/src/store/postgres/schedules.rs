//! Schedule ticks on PostgreSQL.

use super::PgStore;

crate::store::schedules::impl_schedule_store!(PgStore, pool);
