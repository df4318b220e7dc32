//! Schedule ticks: which tick of a schedule was handled last, claimed once across nodes.

use super::StoreError;
use async_trait::async_trait;

/// Schedule ticks: which tick of a schedule was handled last, claimed once across nodes.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Records tick `tick_ms` of a schedule as handled (enqueued, skipped or missed), if it is
    /// later than the last one and no legacy run is inside its `running_until_ms` (today's
    /// callers pass 0); returns the previous tick if it did.
    async fn schedule_claim(
        &self,
        adapter: &str,
        name: &str,
        tick_ms: i64,
        now_ms: i64,
        running_until_ms: i64,
    ) -> Result<Option<i64>, StoreError>;

    /// Marks a schedule's run of `tick_ms` finished.
    async fn schedule_done(
        &self,
        adapter: &str,
        name: &str,
        tick_ms: i64,
    ) -> Result<(), StoreError>;

    /// The last handled tick of a schedule.
    async fn schedule_last(&self, adapter: &str, name: &str) -> Result<Option<i64>, StoreError>;
}

/// Writes [`ScheduleStore`] for a backend: `$store`, writing through its pool `pool` and reading
/// through `$read`. The statements are the shared SQL of `store::sql`, so the Rust around them
/// is written once for both.
macro_rules! impl_schedule_store {
    ($store:ty, $read:ident) => {
        const _: () = {
            use async_trait::async_trait;
            use sqlx::Row;
            use $crate::store::{ScheduleStore, StoreError, sql};

            #[async_trait]
            impl ScheduleStore for $store {
                async fn schedule_claim(
                    &self,
                    adapter: &str,
                    name: &str,
                    tick_ms: i64,
                    now_ms: i64,
                    running_until_ms: i64,
                ) -> Result<Option<i64>, StoreError> {
                    sqlx::query(sql::SCHEDULE_CREATE)
                        .bind(adapter)
                        .bind(name)
                        .execute(&self.pool)
                        .await?;
                    let row = sqlx::query(sql::SCHEDULE_CLAIM)
                        .bind(tick_ms)
                        .bind(running_until_ms)
                        .bind(adapter)
                        .bind(name)
                        .bind(tick_ms)
                        .bind(now_ms)
                        .bind(adapter)
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(|r| r.get::<i64, _>(0)))
                }

                async fn schedule_done(
                    &self,
                    adapter: &str,
                    name: &str,
                    tick_ms: i64,
                ) -> Result<(), StoreError> {
                    sqlx::query(sql::SCHEDULE_DONE)
                        .bind(adapter)
                        .bind(name)
                        .bind(tick_ms)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn schedule_last(
                    &self,
                    adapter: &str,
                    name: &str,
                ) -> Result<Option<i64>, StoreError> {
                    let row = sqlx::query(sql::SCHEDULE_LAST)
                        .bind(adapter)
                        .bind(name)
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(row.map(|r| r.get::<i64, _>(0)).filter(|t| *t > 0))
                }
            }
        };
    };
}
pub(crate) use impl_schedule_store;
