//! The exchange journal on PostgreSQL.

use super::PgStore;

crate::store::journal::impl_journal_store!(PgStore, pool);
