//! Durable steps on PostgreSQL.

use super::PgStore;

crate::store::steps::impl_step_store!(PgStore, pool);
