//! Pausing an adapter: its jobs stay queued, its schedule ticks are counted `paused` instead of
//! run, and its synchronous calls go on or are refused, as the operator chose. Pausing one
//! schedule: its ticks are counted `paused` (a run asked for by hand still runs). The state is
//! in the store, so every node honours it and it survives a restart; each node reads it at
//! most once a second.

use crate::store::{KvStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::store::host_namespace::{PAUSED, PAUSED_SCHEDULES};

/// How long a node takes the paused set it read as current.
const FRESH: Duration = Duration::from_secs(1);

/// Adapters paused at most (the whole set is read at once).
const MAX_PAUSED: u32 = 10_000;

/// One paused adapter or schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    /// When it was paused, unix ms.
    pub since_ms: i64,
    /// True when its synchronous calls are refused too (503); false: they keep working.
    pub refuse_calls: bool,
}

/// Everything paused by name, as read at one moment.
pub type PausedSet = Arc<BTreeMap<String, Paused>>;

/// The paused adapters (or schedules) of a deployment.
pub struct Pauses {
    store: Arc<dyn KvStore>,
    /// The host namespace they are kept in.
    namespace: &'static str,
    read: std::sync::Mutex<Option<(Instant, PausedSet)>>,
}

impl Pauses {
    /// The paused adapters kept in `store`.
    pub fn new(store: Arc<dyn KvStore>) -> Self {
        Self {
            store,
            namespace: PAUSED,
            read: std::sync::Mutex::new(None),
        }
    }

    /// The paused schedules kept in `store`, each named by [`schedule_key`].
    pub fn of_schedules(store: Arc<dyn KvStore>) -> Self {
        Self {
            store,
            namespace: PAUSED_SCHEDULES,
            read: std::sync::Mutex::new(None),
        }
    }

    /// Pauses `name`, an adapter or a [`schedule_key`] (again: the choice about calls is
    /// updated).
    pub async fn pause(&self, name: &str, refuse_calls: bool) -> Result<(), StoreError> {
        let paused = Paused {
            since_ms: crate::clock::now_ms(),
            refuse_calls,
        };
        let value = serde_json::to_vec(&paused).unwrap_or_default();
        self.store.kv_set(self.namespace, name, &value).await?;
        self.forget();
        tracing::info!(paused = name, refuse_calls, "paused");
        Ok(())
    }

    /// Resumes `name`; false if it was not paused.
    pub async fn resume(&self, name: &str) -> Result<bool, StoreError> {
        let was = self.store.kv_delete(self.namespace, name).await?;
        self.forget();
        if was {
            tracing::info!(resumed = name, "resumed");
        }
        Ok(was)
    }

    fn forget(&self) {
        if let Ok(mut r) = self.read.lock() {
            *r = None;
        }
    }

    /// Everything paused, as read within the last second. A store that cannot be read
    /// leaves the last set read in force (nothing paused if none was ever read).
    pub async fn all(&self) -> PausedSet {
        let cached = self.read.lock().ok().and_then(|r| r.clone());
        if let Some((at, set)) = &cached
            && at.elapsed() < FRESH
        {
            return set.clone();
        }
        match self.load().await {
            Ok(set) => {
                let set = Arc::new(set);
                if let Ok(mut r) = self.read.lock() {
                    *r = Some((Instant::now(), set.clone()));
                }
                set
            }
            Err(e) => {
                tracing::debug!("paused adapters could not be read: {e}");
                cached.map(|(_, s)| s).unwrap_or_default()
            }
        }
    }

    /// Whether `name` (an adapter or a [`schedule_key`]) is paused, and how.
    pub async fn get(&self, name: &str) -> Option<Paused> {
        self.all().await.get(name).cloned()
    }

    async fn load(&self) -> Result<BTreeMap<String, Paused>, StoreError> {
        let mut out = BTreeMap::new();
        for key in self
            .store
            .kv_list(self.namespace, "", None, MAX_PAUSED)
            .await?
        {
            if let Some(value) = self.store.kv_get(self.namespace, &key).await?
                && let Ok(p) = serde_json::from_slice::<Paused>(&value)
            {
                out.insert(key, p);
            }
        }
        Ok(out)
    }
}

/// The name a paused schedule is kept under: no adapter name holds a `/`.
pub fn schedule_key(adapter: &str, schedule: &str) -> String {
    format!("{adapter}/{schedule}")
}
