//! The job queue: enqueue, claim under a lease, heartbeat, finish (fenced on the attempt),
//! list, retry, cancel, prune.

use super::StoreError;
use async_trait::async_trait;

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
    /// Above 0: runs ahead of its adapter's normal jobs (schedule ticks, follow-ups); stored as
    /// 1, since urgency has two levels.
    pub priority: i32,
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
    /// Only jobs of this operation (a schedule's are `schedule:NAME`).
    pub op: Option<&'a str>,
    /// Only the job enqueued with this idempotency key.
    pub idempotency_key: Option<&'a str>,
    /// Only jobs created at or after this time, unix ms.
    pub since_ms: Option<i64>,
    /// Only jobs created before this time, unix ms.
    pub until_ms: Option<i64>,
}

/// One attempt's end, for [`JobStore::job_finish_many`].
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

/// The job queue: enqueue, claim under a lease, heartbeat, finish (fenced on the attempt),
/// list, retry, cancel, prune.
#[async_trait]
pub trait JobStore: Send + Sync {
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
    ) -> Result<Option<JobRecord>, StoreError> {
        // A claim of one: the same statement, so that both read the queue the same way.
        Ok(self
            .job_claim_many(owner, now_ms, lease_until_ms, 1)
            .await?
            .pop())
    }

    /// Enqueues several jobs in one transaction (one commit for the lot: all are stored or
    /// none), each as [`JobStore::job_enqueue`] would; answers what happened to each, in order.
    async fn job_enqueue_many(
        &self,
        jobs: &[NewJob],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, StoreError>;

    /// Claims up to `limit` due jobs at once, in run order, each as [`JobStore::job_claim`] would:
    /// one round trip for a worker pool with that many free slots.
    async fn job_claim_many(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError>;

    /// Claims up to `limit` due jobs shared fairly among `shares` — each adapter named there
    /// with how many of its jobs may start now (its free `limits.concurrency`) — in one
    /// statement: each adapter's due jobs are read from an index of their own (urgent ones
    /// first, then in due order), lapsed leases before anything, and the claim goes round the
    /// adapters — every adapter's first job, then every adapter's second — until `limit`.
    /// An adapter absent from `shares` (paused, unloaded, at its concurrency) gets nothing.
    /// Jobs whose lease lapsed (their claimer died) are taken only if `reclaim`: a lease
    /// lapses after tens of seconds, so the claimer looks for them about once a second rather
    /// than pay that scan at every claim.
    async fn job_claim_fair(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
        shares: &[(String, u32)],
        reclaim: bool,
    ) -> Result<Vec<JobRecord>, StoreError>;

    /// Records how several attempts ended, in one transaction where the backend has them (one
    /// commit for the lot); answers, for each in order, whether it was recorded (false: fenced,
    /// as [`JobStore::job_finish`]).
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
            ..JobFilter::default()
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

    /// Deletes at most `limit` succeeded jobs whose operation starts with `op_prefix`, last
    /// changed before `before_ms` (schedule ticks, kept for a shorter time than other jobs).
    async fn job_prune_succeeded(
        &self,
        op_prefix: &str,
        before_ms: i64,
        limit: u32,
    ) -> Result<u64, StoreError>;

    /// Hands back every running job leased by `owner` (graceful shutdown); returns how many.
    async fn job_release_owner(&self, owner: &str, now_ms: i64) -> Result<u64, StoreError>;

    /// For each of `adapters`, when its oldest queued job was due (unix ms), if it has one:
    /// one index seek per adapter, for the lag of the queue each adapter sees.
    async fn job_oldest_queued(
        &self,
        adapters: &[String],
    ) -> Result<Vec<(String, i64)>, StoreError>;

    /// Job counts by adapter and state.
    async fn job_counts(&self) -> Result<Vec<(String, JobState, i64)>, StoreError>;

    /// Notified when a job is enqueued by any process (PostgreSQL LISTEN/NOTIFY).
    fn job_wakeup(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}

/// A job read from the first columns of a row of either backend, in the order of their
/// `JOB_COLUMNS` (the attempt history, 13, may be missing: a claim leaves it out).
pub(crate) fn job_from_row<'r, R: sqlx::Row>(r: &'r R) -> JobRecord
where
    usize: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let json = |i: usize| {
        r.get::<Option<String>, _>(i)
            .and_then(|t| serde_json::from_str(&t).ok())
    };
    JobRecord {
        id: r.get(0),
        adapter: r.get(1),
        op: r.get(2),
        input: r.get(3),
        state: JobState::parse(r.get::<&str, _>(4)).unwrap_or(JobState::Dead),
        attempt: u32::try_from(r.get::<i64, _>(5)).unwrap_or(0),
        max_attempts: u32::try_from(r.get::<i64, _>(6)).unwrap_or(0),
        run_at_ms: r.get(7),
        idempotency_key: r.get(8),
        output: json(9),
        last_error: json(10),
        created_at_ms: r.get(11),
        updated_at_ms: r.get(12),
        // A claim's RETURNING leaves the history out: a worker has no use for it.
        errors: r
            .try_get::<Option<String>, _>(13)
            .ok()
            .flatten()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default(),
    }
}
