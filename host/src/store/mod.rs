//! Durable state, one trait per capability — adapter storage ([`KvStore`]), token grants
//! ([`TokenStore`]), jobs ([`JobStore`]), schedule ticks ([`ScheduleStore`]), rate budgets
//! ([`RateStore`]), durable steps ([`StepStore`]) and the exchange journal ([`JournalStore`]) —
//! which [`Store`] puts together. The embedded default is SQLite; PostgreSQL
//! implements the same traits. The SQL both dialects agree on is written once, in `sql`; each
//! backend keeps, one file per capability, only what differs (JSON functions, `SKIP LOCKED`,
//! advisory locks, `LISTEN/NOTIFY`).

pub mod backup;
pub(crate) mod group;
pub mod health;
pub(crate) mod items;
mod jobs;
mod jobs_impl;
pub(crate) mod journal;
mod kv;
mod monitored;
mod postgres;
mod rate;
mod schedules;
pub(crate) mod sql;
mod sqlite;
pub(crate) mod steps;
mod tokens;

pub use backup::BackupStore;
pub use health::Health;
pub use items::{ItemStore, ItemsRow};
pub use jobs::{Enqueued, Finish, JobFilter, JobOutcome, JobRecord, JobState, JobStore, NewJob};
pub use journal::{JournalRow, JournalStore};
pub use kv::{KvStore, KvUsage, host_namespace};
pub use monitored::{HealthStore, Monitored};
pub use postgres::PgStore;
pub use rate::{RateStore, budget_key};
pub use schedules::ScheduleStore;
pub use sqlite::SqliteStore;
pub use steps::{StepRecord, StepState, StepStore};
pub use tokens::{StoreLock, StoredGrant, TokenStore};

/// A store failure; callers see it as "unavailable, may be retried".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("store: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The data directory could not be prepared.
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
    /// The store's address or options are wrong.
    #[error("store: {0}")]
    Config(String),
    /// A call did not finish within its bound (`--store-timeout`): the store hangs.
    #[error("store: {call} did not answer within {bound:?}")]
    Stalled {
        /// The call.
        call: &'static str,
        /// Its bound.
        bound: std::time::Duration,
    },
}

/// Opens the store `url` names: `sqlite` (the default: `weft.db` in `data_dir`) or a
/// `postgres://…` URL (optionally with `?schema=NAME`), every call bounded by
/// [`health::DEFAULT_CALL_TIMEOUT`].
pub async fn open(
    url: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    open_with(url, data_dir, health::DEFAULT_CALL_TIMEOUT).await
}

/// [`open`] with each call bounded by `call_timeout`, watched by a [`Health`] that `/readyz`
/// reads; the embedded store's pages are checked in the background once it is open.
pub async fn open_with(
    url: Option<&str>,
    data_dir: &std::path::Path,
    call_timeout: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    let health = std::sync::Arc::new(Health::new(call_timeout));
    match url {
        None | Some("") | Some("sqlite") => {
            let store = SqliteStore::open(data_dir).await?;
            let (check, watcher) = (store.clone(), health.clone());
            tokio::spawn(async move {
                if let Err(detail) = check.quick_check().await {
                    watcher.set_corrupt(detail);
                }
            });
            Ok(std::sync::Arc::new(Monitored::new(store, health)))
        }
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(std::sync::Arc::new(Monitored::new(
                PgStore::open_with(u, call_timeout).await?,
                health,
            )))
        }
        Some(other) => Err(StoreError::Config(format!(
            "expected \"sqlite\" or a postgres:// URL, found {:?}",
            other.split('@').next_back().unwrap_or_default()
        ))),
    }
}

/// Where the host keeps its own facts in the key-value table (no adapter name can spell it).
const META: &str = host_namespace::META;

/// The deployment's secret called `name`: 32 random bytes made by the first process that asks
/// and kept in the store, so that every node of a cluster has the same one.
pub async fn deployment_secret(store: &dyn Store, name: &str) -> Result<Vec<u8>, StoreError> {
    use rand::RngCore;
    if let Some(secret) = store.kv_get(META, name).await? {
        return Ok(secret);
    }
    let mut fresh = vec![0u8; 32];
    rand::rng().fill_bytes(&mut fresh);
    if store.kv_cas(META, name, None, Some(&fresh)).await? {
        return Ok(fresh);
    }
    // Another process made it first: use theirs.
    Ok(store.kv_get(META, name).await?.unwrap_or(fresh))
}

/// True once a process has recorded its store key's check value in `store`.
pub async fn store_key_recorded(store: &dyn Store) -> Result<bool, StoreError> {
    Ok(store.kv_get(META, "store-key-check").await?.is_some())
}

/// Checks that this process was given the store key the store was set up with (`check`: the
/// key's check value); the first process to ask records its key's. A wrong key would otherwise
/// pass unnoticed, every sealed token ignored and fetched again.
pub async fn check_store_key(store: &dyn Store, check: &[u8]) -> Result<(), StoreError> {
    let stored = match store.kv_get(META, "store-key-check").await? {
        Some(v) => v,
        None if store
            .kv_cas(META, "store-key-check", None, Some(check))
            .await? =>
        {
            return Ok(());
        }
        None => store
            .kv_get(META, "store-key-check")
            .await?
            .unwrap_or_default(),
    };
    if stored == check {
        Ok(())
    } else {
        Err(StoreError::Config(
            "the store key (WEFT_STORE_KEY, or DATA/store-key for the embedded store) is not the one this store was set up with: give every node the same key".into(),
        ))
    }
}

/// Checks that the store is the one this data folder was used with: a store id kept both in
/// the store and in `DATA/store-id`. A store that vanished or was emptied (a deleted
/// `weft.db`, a reset database) would otherwise be taken for a fresh one, forgetting
/// idempotency keys and job history; it is refused unless `init` (`weft --init`) says to start
/// a fresh store. A new data folder on an existing store (a new node) takes the store's id.
pub async fn check_identity(
    store: &dyn Store,
    data_dir: &std::path::Path,
    init: bool,
) -> Result<(), StoreError> {
    let marker = data_dir.join("store-id");
    let known = std::fs::read_to_string(&marker)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let stored = store
        .kv_get(META, "store-id")
        .await?
        .and_then(|b| String::from_utf8(b).ok());
    let write_marker = |id: &str| -> Result<(), StoreError> {
        std::fs::create_dir_all(data_dir)?;
        std::fs::write(&marker, format!("{id}\n"))?;
        Ok(())
    };
    match (known, stored) {
        (Some(k), Some(s)) if k == s => Ok(()),
        (None, Some(s)) => write_marker(&s),
        (Some(_), Some(s)) if init => write_marker(&s),
        (Some(k), Some(s)) => Err(StoreError::Config(format!(
            "the store (id {s}) is not the one this data folder was used with (id {k} in {}): start with --init to adopt it",
            marker.display()
        ))),
        (Some(k), None) if !init => Err(StoreError::Config(format!(
            "the store of this data folder (id {k} in {}) vanished or was emptied: its idempotency keys and jobs are gone; start with --init to begin a fresh store",
            marker.display()
        ))),
        (_, None) => {
            let id = uuid::Uuid::new_v4().to_string();
            // Two nodes starting on one new store at once: the first id written wins for both.
            if store
                .kv_cas(META, "store-id", None, Some(id.as_bytes()))
                .await?
            {
                return write_marker(&id);
            }
            let won = store
                .kv_get(META, "store-id")
                .await?
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or(id);
            write_marker(&won)
        }
    }
}

/// Checks that `store` can take a write now, for `/readyz`: not when it is corrupt or a write
/// failed lately (and none succeeded since); otherwise a small write of its own.
pub async fn probe(store: &dyn Store) -> Result<(), String> {
    use rand::RngCore;
    if let Some(problem) = store.health().and_then(|h| h.problem()) {
        return Err(problem);
    }
    let mut value = [0u8; 64];
    rand::rng().fill_bytes(&mut value);
    store
        .kv_set(META, "ready-probe", &value)
        .await
        .map_err(|e| format!("the store cannot write: {e}"))
}

/// Durable state shared by every capability: one trait per capability ([`KvStore`],
/// [`TokenStore`], [`JobStore`], [`ScheduleStore`], [`RateStore`]), each implemented by both
/// backends, and the watch kept on them ([`HealthStore`]).
pub trait Store:
    KvStore
    + TokenStore
    + JobStore
    + ScheduleStore
    + RateStore
    + StepStore
    + JournalStore
    + ItemStore
    + HealthStore
    + BackupStore
    + 'static
{
}

impl<
    T: KvStore
        + TokenStore
        + JobStore
        + ScheduleStore
        + RateStore
        + StepStore
        + JournalStore
        + ItemStore
        + HealthStore
        + BackupStore
        + 'static,
> Store for T
{
}
