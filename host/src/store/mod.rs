//! Durable state behind one trait: adapter storage, token grants, jobs and schedule ticks. The
//! embedded default is SQLite; PostgreSQL fits the same trait.

mod postgres;
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;

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
}

/// A lock held across processes (PostgreSQL advisory lock); released explicitly.
#[async_trait]
pub trait StoreLock: Send {
    /// Releases the lock.
    async fn release(self: Box<Self>);
}

/// Opens the store `url` names: `sqlite` (the default: `weft.db` in `data_dir`) or a
/// `postgres://…` URL (optionally with `?schema=NAME`).
pub async fn open(
    url: Option<&str>,
    data_dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    match url {
        None | Some("") | Some("sqlite") => {
            Ok(std::sync::Arc::new(SqliteStore::open(data_dir).await?))
        }
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(std::sync::Arc::new(PgStore::open(u).await?))
        }
        Some(other) => Err(StoreError::Config(format!(
            "expected \"sqlite\" or a postgres:// URL, found {:?}",
            other.split('@').next_back().unwrap_or_default()
        ))),
    }
}

/// Where the host keeps its own facts in the key-value table (no adapter name can spell it).
const META: &str = "\u{1f}weft/meta";

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

/// What one namespace of the key-value table holds (see [`Store::kv_usage`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvUsage {
    /// Keys.
    pub keys: u64,
    /// Bytes of keys and values together.
    pub bytes: u64,
    /// Bytes of the key asked about and its value, if it is set.
    pub existing: Option<u64>,
}

impl KvUsage {
    /// Reads `(keys, bytes, existing)` from the first three columns of a usage query, whichever
    /// database answered it.
    pub(crate) fn from_row<R: sqlx::Row>(row: &R) -> Result<Self, StoreError>
    where
        usize: sqlx::ColumnIndex<R>,
        i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let existing: Option<i64> = row.try_get(2)?;
        Ok(Self {
            keys: count(row.try_get(0)?),
            bytes: count(row.try_get(1)?),
            existing: existing.map(count),
        })
    }
}

/// A token grant as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredGrant {
    /// The token, or `None` once it was invalidated.
    pub token: Option<String>,
    /// Expiry, unix milliseconds.
    pub expires_at_ms: i64,
    /// When it was fetched, unix milliseconds.
    pub fetched_at_ms: i64,
    /// Last call of `fetch-token`, successful or not, unix milliseconds.
    pub last_attempt_ms: i64,
    /// Fingerprint of the credentials it was fetched with: other credentials, other grant.
    pub credentials: String,
    /// Incremented on every write; writes are compare-and-swap on it.
    pub version: i64,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its `run_at` (or for its adapter to come back).
    Queued,
    /// An attempt holds the lease.
    Running,
    /// Finished with an output.
    Succeeded,
    /// Failed for good (not retryable, or out of attempts); `retry` brings it back.
    Dead,
    /// Cancelled by an operator before it ran (or after it died); never runs again.
    Cancelled,
}

impl JobState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "succeeded" => Some(Self::Succeeded),
            "dead" => Some(Self::Dead),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Job id (a UUID).
    pub id: String,
    /// Adapter instance.
    pub adapter: String,
    /// Operation.
    pub op: String,
    /// JSON input.
    pub input: String,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// First run, unix ms.
    pub run_at_ms: i64,
    /// Caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// Hash of what the key was used for (op and input): same key, other request → conflict.
    pub request_hash: Option<String>,
}

/// What enqueueing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job with this id.
    New(String),
    /// The key was used before for the same request: that job's id.
    Existing(String),
    /// The key was used before for another request.
    KeyConflict(String),
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRecord {
    /// Id.
    pub id: String,
    /// Adapter instance.
    pub adapter: String,
    /// Operation.
    pub op: String,
    /// JSON input.
    #[serde(skip)]
    pub input: String,
    /// State.
    pub state: JobState,
    /// Attempts started.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Next run, unix ms.
    pub run_at_ms: i64,
    /// Caller's idempotency key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// JSON output once succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
    /// The last attempt's error (a problem object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<serde_json::Value>,
    /// Created, unix ms.
    pub created_at_ms: i64,
    /// Last change, unix ms.
    pub updated_at_ms: i64,
    /// The errors of attempts that failed, oldest first (the last 20), each
    /// `{"attempt": n, "at_ms": t, "error": problem}`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<serde_json::Value>,
}

/// Which jobs a listing wants.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobFilter<'a> {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only this adapter's jobs.
    pub adapter: Option<&'a str>,
    /// Continue after this job: its `created_at_ms` and id.
    pub after: Option<(i64, &'a str)>,
}

/// One attempt's end, for [`Store::job_finish_many`].
#[derive(Debug, Clone)]
pub struct Finish {
    /// The job.
    pub id: String,
    /// The attempt that ended (the fence).
    pub attempt: u32,
    /// How it ended.
    pub outcome: JobOutcome,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum JobOutcome {
    /// Success with this output.
    Succeeded(String),
    /// Try again at this time, keeping the error.
    Retry {
        /// Next run, unix ms.
        run_at_ms: i64,
        /// The error, as a JSON problem.
        error: String,
    },
    /// Give up with this error.
    Dead(String),
    /// Hand the job back untried (shutdown, adapter gone): the attempt does not count.
    Release {
        /// Next run, unix ms.
        run_at_ms: i64,
    },
}

/// Durable state shared by every capability.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Reads `key` of namespace `ns`.
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes `key` of `ns`.
    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Deletes `key` of `ns`; true if it existed.
    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError>;
    /// Keys of `ns` starting with `prefix`, after `after`, in byte order, at most `limit`.
    async fn kv_list(
        &self,
        ns: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// What namespace `ns` holds: its keys, their bytes (keys and values), and the bytes of
    /// `key` if it is set (a write replacing it frees those).
    async fn kv_usage(&self, ns: &str, key: &str) -> Result<KvUsage, StoreError>;
    /// Atomically replaces `expected` by `new` (`None`: absent); true if it did.
    async fn kv_cas(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError>;

    /// The grant of `adapter`/`scope`, if any.
    async fn token_load(
        &self,
        adapter: &str,
        scope: &str,
    ) -> Result<Option<StoredGrant>, StoreError>;
    /// Writes `grant` if the stored version is still `expected_version` (`None`: no row yet);
    /// true if it was written. The stored version becomes `grant.version`.
    async fn token_store(
        &self,
        adapter: &str,
        scope: &str,
        grant: &StoredGrant,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// Forgets the token of `adapter`/`scope` if it is still `token`; true if it was.
    async fn token_invalidate(
        &self,
        adapter: &str,
        scope: &str,
        token: &str,
    ) -> Result<bool, StoreError>;

    /// Enqueues a job; an idempotency key is enforced by a unique index.
    async fn job_enqueue(&self, job: &NewJob, now_ms: i64) -> Result<Enqueued, StoreError> {
        // One job is a batch of one: a single code path for the key checks.
        self.job_enqueue_many(std::slice::from_ref(job), now_ms)
            .await?
            .pop()
            .ok_or_else(|| StoreError::Config("an enqueue answered nothing".into()))
    }
    /// Claims the next due job (queued and due, or running with a lapsed lease) for `owner`
    /// until `lease_until_ms`, starting a new attempt.
    async fn job_claim(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError>;
    /// Enqueues several jobs in one transaction (one commit for the lot: all are stored or
    /// none), each as [`Store::job_enqueue`] would; answers what happened to each, in order.
    async fn job_enqueue_many(
        &self,
        jobs: &[NewJob],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, StoreError>;
    /// Claims up to `limit` due jobs at once, in run order, each as [`Store::job_claim`] would:
    /// one round trip for a worker pool with that many free slots.
    async fn job_claim_many(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError>;
    /// Records how several attempts ended, in one transaction where the backend has them (one
    /// commit for the lot); answers, for each in order, whether it was recorded (false: fenced,
    /// as [`Store::job_finish`]).
    async fn job_finish_many(
        &self,
        finished: &[Finish],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError>;
    /// Extends the lease of attempt `attempt`; false if the job moved on (fenced).
    async fn job_heartbeat(
        &self,
        id: &str,
        attempt: u32,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Records how attempt `attempt` ended; false if a newer attempt owns the job (fenced).
    async fn job_finish(
        &self,
        id: &str,
        attempt: u32,
        outcome: &JobOutcome,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// One job.
    async fn job_get(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;
    /// Jobs by state and adapter, newest first, at most `limit`, without their input and output
    /// (`job_get` has them).
    async fn job_list(
        &self,
        state: Option<JobState>,
        adapter: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let filter = JobFilter {
            state,
            adapter,
            after: None,
        };
        self.job_page(&filter, limit).await
    }
    /// One page of jobs matching `filter`, newest first (ties by id), at most `limit`, without
    /// their input and output; `filter.after` continues after the last job of a page.
    async fn job_page(
        &self,
        filter: &JobFilter<'_>,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError>;
    /// Puts a dead job back in the queue with `extra_attempts` more; false if it is not dead.
    async fn job_retry(
        &self,
        id: &str,
        extra_attempts: u32,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Enqueues every job of `jobs` in one transaction: all are stored or none. A keyed job
    /// whose key exists already is left as it is (a call's re-run enqueues the same jobs).
    async fn job_enqueue_all(&self, jobs: &[NewJob], now_ms: i64) -> Result<(), StoreError> {
        self.job_enqueue_many(jobs, now_ms).await.map(drop)
    }
    /// True while a job of `adapter` with operation `op` is queued or running.
    async fn job_active(&self, adapter: &str, op: &str) -> Result<bool, StoreError>;
    /// Cancels a queued or dead job; false if it does not exist or is in another state.
    async fn job_cancel(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Deletes at most `limit` finished jobs (succeeded, dead, cancelled) last changed before
    /// `before_ms`; returns how many. Small batches keep each transaction short.
    async fn job_prune(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError>;
    /// Hands back every running job leased by `owner` (graceful shutdown); returns how many.
    async fn job_release_owner(&self, owner: &str, now_ms: i64) -> Result<u64, StoreError>;
    /// Job counts by adapter and state.
    async fn job_counts(&self) -> Result<Vec<(String, JobState, i64)>, StoreError>;

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

    /// Takes the cluster-wide lock around a token fetch for `adapter`/`scope`; `None` where the
    /// store is private to one process (the in-process single flight is enough there).
    async fn token_lock(
        &self,
        _adapter: &str,
        _scope: &str,
    ) -> Result<Option<Box<dyn StoreLock>>, StoreError> {
        Ok(None)
    }

    /// Takes the next slot of rate budget `key` (one call per `interval_ms`): answers when
    /// the caller may send (at or after `now_ms`). Atomic, so the budget holds across processes.
    async fn rate_acquire(
        &self,
        key: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, StoreError>;

    /// Notified when a job is enqueued by any process (PostgreSQL LISTEN/NOTIFY).
    fn job_wakeup(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}

/// SQL both backends run as written (sqlx takes `$N` parameters for SQLite too); each backend
/// keeps only the statements where the dialects differ.
pub(crate) mod sql {
    /// Enqueue one job; a keyed job whose key exists is left as it was.
    pub const JOB_INSERT: &str = "INSERT INTO jobs (id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, request_hash, created_at_ms, updated_at_ms) \
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
    /// The job holding an adapter's idempotency key, and what the key was used for.
    pub const JOB_BY_KEY: &str =
        "SELECT id, request_hash FROM jobs WHERE adapter = $1 AND idempotency_key = $2";
    /// Is a job of this adapter and operation queued or running?
    pub const JOB_ACTIVE: &str = "SELECT 1 FROM jobs WHERE adapter = $1 AND state IN ('queued', 'running') AND op = $2 LIMIT 1";
    /// Cancel a queued or dead job.
    pub const JOB_CANCEL: &str = "UPDATE jobs SET state = 'cancelled', updated_at_ms = $1 WHERE id = $2 AND state IN ('queued', 'dead')";
    /// Delete a batch of finished jobs changed before a time.
    pub const JOB_PRUNE: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('succeeded', 'dead', 'cancelled') AND updated_at_ms < $1 LIMIT $2)";
    /// One page of a listing, newest first; `{columns}` is the backend's list columns.
    pub const JOB_PAGE: &str = "FROM jobs WHERE ($1 IS NULL OR state = $2) AND ($3 IS NULL OR adapter = $4) \
         AND ($5 IS NULL OR created_at_ms < $6 OR (created_at_ms = $7 AND id > $8)) \
         ORDER BY created_at_ms DESC, id LIMIT $9";
    /// The columns of a listing: a job's, without input and output, which may be megabytes.
    pub const LIST_COLUMNS: &str = "id, adapter, op, '' AS input, state, attempt, max_attempts, run_at_ms, idempotency_key, NULL AS output, last_error, created_at_ms, updated_at_ms";
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` prefix match.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
