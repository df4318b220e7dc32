//! Partial success: what became of a call's items (taken, refused, and the refused ones), one
//! row per call, kept until its job is pruned.

use super::StoreError;
use async_trait::async_trait;

/// What became of one call's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsRow {
    /// The call's id (a job's id for a job).
    pub call_id: String,
    /// The adapter.
    pub adapter: String,
    /// Items the platform took.
    pub accepted: u64,
    /// Items it refused.
    pub rejected: u64,
    /// The refused items kept, as a JSON array.
    pub rejected_items: String,
    /// When the call's run that reported them ended, unix ms.
    pub at_ms: i64,
}

/// Partial success, by call id.
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Keeps `row` in place of what was kept for the same call (the call's last run reports).
    async fn items_put(&self, row: &ItemsRow) -> Result<(), StoreError>;

    /// What is kept for call `call_id`.
    async fn items_get(&self, call_id: &str) -> Result<Option<ItemsRow>, StoreError>;

    /// Deletes up to `limit` rows kept before `before_ms` whose call is no job the store still
    /// holds; answers how many.
    async fn items_prune(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError>;
}

/// Writes [`ItemStore`] for a backend: `$store`, writing through its pool `pool` and reading
/// through `$read`, with the shared SQL of `store::sql`.
macro_rules! impl_item_store {
    ($store:ty, $read:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;
            use $crate::store::{ItemStore, ItemsRow, StoreError, sql};

            #[async_trait]
            impl ItemStore for $store {
                async fn items_put(&self, row: &ItemsRow) -> Result<(), StoreError> {
                    sqlx::query(sql::ITEMS_PUT)
                        .bind(&row.call_id)
                        .bind(&row.adapter)
                        .bind(i64::try_from(row.accepted).unwrap_or(i64::MAX))
                        .bind(i64::try_from(row.rejected).unwrap_or(i64::MAX))
                        .bind(&row.rejected_items)
                        .bind(row.at_ms)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn items_get(&self, call_id: &str) -> Result<Option<ItemsRow>, StoreError> {
                    let row = sqlx::query(sql::ITEMS_GET)
                        .bind(call_id)
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(row.map(|r| ItemsRow {
                        call_id: call_id.to_string(),
                        adapter: r.get(0),
                        accepted: u64::try_from(r.get::<i64, _>(1)).unwrap_or(0),
                        rejected: u64::try_from(r.get::<i64, _>(2)).unwrap_or(0),
                        rejected_items: r.get(3),
                        at_ms: r.get(4),
                    }))
                }

                async fn items_prune(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError> {
                    let done = sqlx::query(sql::ITEMS_PRUNE)
                        .bind(before_ms)
                        .bind(i64::from(limit))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(crate) use impl_item_store;
