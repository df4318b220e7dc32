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

    /// How far each of these budgets is already booked: the time of its next free slot, for
    /// the keys that have one (a key never taken is free now). Read only, so that the job
    /// claimer can leave an adapter's jobs queued while its budget is spent, instead of
    /// claiming them onto workers that would sit waiting for a slot.
    async fn rate_booked_until(&self, keys: &[String]) -> Result<Vec<(String, i64)>, StoreError>;
}

/// The store key of an adapter's outbound budget `which` (`limits.rate` or
/// `limits.token_rate`): one spelling for the calls that take slots and the claimer that reads
/// them.
pub fn budget_key(adapter: &str, which: &str) -> String {
    format!("{adapter}\u{1f}{which}")
}
