//! Rate budgets shared by every process: the next free slot of an adapter's outbound rate.

use super::StoreError;
use async_trait::async_trait;

/// Rate budgets shared by every process: the next free slot of an adapter's outbound rate.
#[async_trait]
pub trait RateStore: Send + Sync {
    /// Takes the next slot of rate budget `key` (one call per `interval_ms`): answers when
    /// the caller may send (at or after `now_ms`). Atomic, so the budget holds across processes.
    async fn rate_acquire(
        &self,
        key: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, StoreError>;
}
