//! [`Monitored`]: any store with every call watched by its [`Health`] — bounded in time,
//! its failures classed and counted, its writes telling `/readyz` whether the store can write.

use super::health::Health;
use super::{
    Enqueued, Finish, ItemStore, ItemsRow, JobFilter, JobOutcome, JobRecord, JobState, JobStore,
    JournalRow, JournalStore, KvStore, KvUsage, NewJob, RateStore, ScheduleStore, StepRecord,
    StepState, StepStore, Store, StoreError, StoreLock, StoredGrant, TokenStore,
};
use async_trait::async_trait;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

/// A store with every call watched by a [`Health`].
pub struct Monitored<S> {
    inner: S,
    health: Arc<Health>,
}

impl<S: Store> Monitored<S> {
    /// Wraps `inner`, reporting into `health`.
    pub fn new(inner: S, health: Arc<Health>) -> Self {
        Self { inner, health }
    }

    async fn watch<T>(
        &self,
        what: &'static str,
        write: bool,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let bound = self.health.call_timeout;
        let result = match tokio::time::timeout(bound, call).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Stalled { call: what, bound }),
        };
        self.health.observe(what, write, started.elapsed(), &result);
        result
    }
}

/// The store's condition, for whoever holds only the store.
pub trait HealthStore: Send + Sync {
    /// The store's health record; `None` for a store that is not watched.
    fn health(&self) -> Option<Arc<Health>> {
        None
    }
}

impl<S: Store> HealthStore for Monitored<S> {
    fn health(&self) -> Option<Arc<Health>> {
        Some(self.health.clone())
    }
}

// A backup takes as long as the store is large: not bounded by the call timeout.
#[async_trait]
impl<S: Store> super::BackupStore for Monitored<S> {
    async fn backup_to(&self, to: &std::path::Path) -> Result<(), StoreError> {
        self.inner.backup_to(to).await
    }
}

/// Implements `$trait` for [`Monitored`]: each listed method delegates to the inner store
/// through [`Monitored::watch`] (`write` marks the calls whose success shows the store can
/// write again); the tokens after `also` are further items of the impl, written out.
macro_rules! watched {
    (impl $trait:ident {
        $( $write:literal fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $out:ty; )*
    } also { $($extra:tt)* }) => {
        #[async_trait]
        impl<S: Store> $trait for Monitored<S> {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> Result<$out, StoreError> {
                    self.watch(stringify!($name), $write, self.inner.$name($($arg),*)).await
                }
            )*
            $($extra)*
        }
    };
}

watched! {
    impl KvStore {
        false fn kv_get(&self, ns: &str, key: &str) -> Option<Vec<u8>>;
        true fn kv_set_until(&self, ns: &str, key: &str, value: &[u8], until: Option<i64>) -> ();
        true fn kv_delete(&self, ns: &str, key: &str) -> bool;
        false fn kv_list(&self, ns: &str, prefix: &str, after: Option<&str>, limit: u32) -> Vec<String>;
        false fn kv_usage(&self, ns: &str, key: &str) -> KvUsage;
        true fn kv_cas_until(&self, ns: &str, key: &str, expected: Option<&[u8]>, new: Option<&[u8]>, until: Option<i64>) -> bool;
        true fn kv_expire(&self, now_ms: i64, limit: u32) -> u64;
    } also {}
}

watched! {
    impl JobStore {
        true fn job_enqueue_many(&self, jobs: &[NewJob], now_ms: i64) -> Vec<Enqueued>;
        false fn job_claim_many(&self, owner: &str, now_ms: i64, lease_until_ms: i64, limit: u32) -> Vec<JobRecord>;
        false fn job_claim_fair(&self, owner: &str, now_ms: i64, lease_until_ms: i64, limit: u32, shares: &[(String, u32)], reclaim: bool) -> Vec<JobRecord>;
        true fn job_finish_many(&self, finished: &[Finish], now_ms: i64) -> Vec<bool>;
        false fn job_heartbeat(&self, id: &str, attempt: u32, lease_until_ms: i64) -> bool;
        true fn job_finish(&self, id: &str, attempt: u32, outcome: &JobOutcome, now_ms: i64) -> bool;
        false fn job_get(&self, id: &str) -> Option<JobRecord>;
        false fn job_page(&self, filter: &JobFilter<'_>, limit: u32) -> Vec<JobRecord>;
        true fn job_retry(&self, id: &str, extra_attempts: u32, now_ms: i64) -> bool;
        false fn job_active(&self, adapter: &str, op: &str) -> bool;
        true fn job_cancel(&self, id: &str, now_ms: i64) -> bool;
        false fn job_prune(&self, before_ms: i64, limit: u32) -> u64;
        false fn job_prune_succeeded(&self, op_prefix: &str, before_ms: i64, limit: u32) -> u64;
        false fn job_release_owner(&self, owner: &str, now_ms: i64) -> u64;
        false fn job_counts(&self) -> Vec<(String, JobState, i64)>;
        false fn job_oldest_queued(&self, adapters: &[String]) -> Vec<(String, i64)>;
    } also {
        fn job_wakeup(&self) -> Option<Arc<tokio::sync::Notify>> {
            self.inner.job_wakeup()
        }
    }
}

watched! {
    impl StepStore {
        false fn step_get(&self, call_id: &str, name: &str) -> Option<StepRecord>;
        true fn step_put(&self, call_id: &str, name: &str, state: StepState, outcome: Option<&str>, now_ms: i64) -> ();
        true fn step_delete(&self, call_id: &str, name: &str) -> ();
        true fn step_forget_sent(&self, call_id: &str) -> u64;
        false fn step_list(&self, call_id: &str, limit: u32) -> Vec<StepRecord>;
        false fn step_prune(&self, before_ms: i64, limit: u32) -> u64;
    } also {}
}

watched! {
    impl ItemStore {
        true fn items_put(&self, row: &ItemsRow) -> ();
        false fn items_get(&self, call_id: &str) -> Option<ItemsRow>;
        false fn items_prune(&self, before_ms: i64, limit: u32) -> u64;
    } also {}
}

watched! {
    impl JournalStore {
        true fn journal_put(&self, row: &JournalRow) -> ();
        true fn journal_put_many(&self, rows: &[JournalRow]) -> ();
        false fn journal_get(&self, call_id: &str, limit: u32) -> Vec<(u32, String)>;
        false fn journal_prune(&self, before_ms: i64, limit: u32) -> u64;
        false fn journal_trim(&self, adapter: &str, keep: u32, limit: u32) -> u64;
    } also {}
}

watched! {
    impl TokenStore {
        false fn token_load(&self, adapter: &str, scope: &str) -> Option<StoredGrant>;
        true fn token_store(&self, adapter: &str, scope: &str, grant: &StoredGrant, expected_version: Option<i64>) -> bool;
        false fn token_invalidate(&self, adapter: &str, scope: &str, token: &str) -> bool;
    } also {
        async fn token_lock(
            &self,
            adapter: &str,
            scope: &str,
        ) -> Result<Option<Box<dyn StoreLock>>, StoreError> {
            // Not bounded by the call timeout: waiting here is waiting for another node's
            // token fetch, which the caller bounds by its own deadline.
            let started = Instant::now();
            let result = self.inner.token_lock(adapter, scope).await;
            self.health
                .observe("token_lock", false, started.elapsed(), &result);
            result
        }
    }
}

watched! {
    impl ScheduleStore {
        false fn schedule_claim(&self, adapter: &str, name: &str, tick_ms: i64, now_ms: i64, running_until_ms: i64) -> Option<i64>;
        false fn schedule_done(&self, adapter: &str, name: &str, tick_ms: i64) -> ();
        false fn schedule_last(&self, adapter: &str, name: &str) -> Option<i64>;
    } also {}
}

watched! {
    impl RateStore {
        false fn rate_acquire(&self, key: &str, interval_ms: i64, now_ms: i64) -> i64;
        false fn rate_booked_until(&self, keys: &[String]) -> Vec<(String, i64)>;
    } also {}
}
