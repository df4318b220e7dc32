//! The retry policy shared by calls and jobs: which failures are worth another attempt, and
//! how long to wait before it.

use crate::error::ErrorKind;
use crate::manifest::RetryPolicy;
use rand::Rng;
use std::time::Duration;

/// Kinds worth another attempt later.
pub fn retryable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::Busy
    )
}

/// The wait before retry number `retry` (1 for the first): exponential backoff with full
/// jitter, never shorter than the platform's Retry-After.
pub fn backoff(policy: &RetryPolicy, retry: u32, retry_after_ms: Option<u64>) -> Duration {
    let base = policy
        .initial_backoff
        .get()
        .saturating_mul(1u32 << retry.saturating_sub(1).min(20));
    let cap = base.min(policy.max_backoff.get());
    let jittered = Duration::from_millis(rand::rng().random_range(0..=cap.as_millis() as u64));
    let floor = Duration::from_millis(retry_after_ms.unwrap_or(0));
    jittered.max(floor)
}
