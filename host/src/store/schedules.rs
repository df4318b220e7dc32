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
