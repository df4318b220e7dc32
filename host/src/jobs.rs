//! Durable jobs: enqueue (with idempotency keys), a worker pool that claims jobs under a lease
//! renewed by heartbeat, retries transient failures with backoff, and buries the rest.
//!
//! Delivery is at least once: an attempt whose process died is taken again once its lease
//! lapses, so adapters make re-sends safe. Every state change is fenced on (state, attempt).

use crate::adapter::LoadedAdapter;
use crate::error::{ErrorKind, InvokeError};
use crate::invoke::CallOptions;
use crate::runtime::Runtime;
use crate::store::{Enqueued, JobOutcome, JobRecord, NewJob};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::Instrument;

pub use crate::clock::now_ms;

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The id of `adapter`'s job with idempotency key `key`: an HMAC under the deployment's own
/// secret (`secret`, kept in the store), shaped as a UUID. Anyone can compute a hash of a key;
/// only the deployment can compute this, so nobody can predict a job id to squat or probe it.
pub(crate) fn keyed_job_id(secret: &[u8], adapter: &str, key: &str) -> String {
    use hmac::Mac;
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return uuid::Uuid::new_v4().to_string(),
    };
    mac.update(adapter.as_bytes());
    mac.update(&[0]);
    mac.update(key.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A job for `adapter`: a keyed job's id is derived from its key, so the same key always names
/// the same job.
pub(crate) fn new_job(
    adapter: &LoadedAdapter,
    op: &str,
    input: String,
    key: Option<String>,
    delay: Duration,
) -> NewJob {
    let name = &adapter.manifest.name;
    let id = match &key {
        Some(k) => keyed_job_id(&adapter.shared.job_id_key, name, k),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let request_hash = key.as_ref().map(|_| {
        let mut h = Sha256::new();
        h.update(op.as_bytes());
        h.update([0]);
        h.update(input.as_bytes());
        hex::encode(h.finalize())
    });
    NewJob {
        id,
        adapter: name.clone(),
        op: op.to_string(),
        input,
        max_attempts: adapter.manifest.retry.max_attempts,
        run_at_ms: now_ms() + ms(delay),
        idempotency_key: key,
        request_hash,
    }
}

/// Settings of the worker pool.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once across all adapters (each adapter's `limits.concurrency` also holds).
    pub workers: usize,
    /// How long a claimed attempt owns its job without a heartbeat.
    pub lease: Duration,
    /// How often idle workers look for due jobs (an enqueue wakes them at once).
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            workers: 4,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
        }
    }
}

/// Running workers; [`Workers::shutdown`] lets running attempts finish and hands the rest back.
pub struct Workers {
    stop: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
    tasks: JoinSet<()>,
    runtime: Arc<Runtime>,
    owner: String,
}

impl Runtime {
    /// Enqueues `op` of `adapter` as a durable job. With an idempotency key, the same key and
    /// request return the same job; the same key with another request is a `conflict`.
    pub async fn enqueue(
        &self,
        adapter: &str,
        op: &str,
        input: &str,
        idempotency_key: Option<String>,
        delay: Duration,
    ) -> Result<Enqueued, InvokeError> {
        let loaded = self.adapter(adapter, op)?;
        let err = |kind, message: String| InvokeError::new(kind, adapter, op, message);
        if !loaded.offers(op) {
            return Err(err(
                ErrorKind::NotFound,
                format!("adapter {adapter} has no operation {op:?}"),
            ));
        }
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(input) {
            return Err(err(
                ErrorKind::InvalidInput,
                format!("input is not JSON: {e}"),
            ));
        }
        let job = new_job(&loaded, op, input.to_string(), idempotency_key, delay);
        let result = self
            .shared()
            .enqueues
            .enqueue(&self.shared().store, job)
            .await
            .map_err(|e| {
                err(
                    ErrorKind::Unavailable,
                    format!("the job could not be stored: {e}"),
                )
            })?;
        if let Enqueued::KeyConflict(id) = &result {
            return Err(err(
                ErrorKind::Conflict,
                format!("idempotency key already used for another request (job {id})"),
            ));
        }
        self.shared().jobs_wakeup.notify_waiters();
        Ok(result)
    }

    /// Starts the worker pool: one claimer that takes as many due jobs as there are free
    /// slots in one round trip, up to `workers` attempts at once, and one finisher that records
    /// the attempts' ends in batches.
    pub fn start_workers(self: &Arc<Self>, options: WorkerOptions) -> Workers {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(tokio::sync::Notify::new());
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4());
        let (finisher, finishes) = tokio::sync::mpsc::channel(FINISH_QUEUE);
        let mut tasks = JoinSet::new();
        tasks.spawn(finish_in_batches(self.shared().store.clone(), finishes));
        {
            let rt = self.clone();
            let stop = stop.clone();
            let wake = wake.clone();
            let owner = owner.clone();
            tasks.spawn(async move {
                claimer(rt, owner, options, stop, wake, Finisher(finisher)).await
            });
        }
        Workers {
            stop,
            wake,
            tasks,
            runtime: self.clone(),
            owner,
        }
    }
}

impl Workers {
    /// Stops claiming, waits for running attempts to finish (and their ends to be recorded),
    /// and hands back any job still leased by this process.
    pub async fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
        self.runtime.shared().jobs_wakeup.notify_waiters();
        // The finisher ends once the claimer and every attempt (the holders of its sender) have.
        while self.tasks.join_next().await.is_some() {}
        match self
            .runtime
            .shared()
            .store
            .job_release_owner(&self.owner, now_ms())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "running jobs handed back to the queue"),
            Err(e) => {
                tracing::warn!("jobs could not be handed back (their leases will lapse): {e}")
            }
        }
    }
}

/// Enqueues one transaction commits at most.
const ENQUEUE_BATCH: usize = 256;

type EnqueueRequest = (
    NewJob,
    tokio::sync::oneshot::Sender<Result<Enqueued, crate::store::StoreError>>,
);

/// Group commit for enqueues: every enqueue waiting at the moment the store is free goes into
/// one transaction, so that many concurrent callers share one commit (one fsync on PostgreSQL)
/// instead of queueing for one each. A caller is answered only once its job is committed.
#[derive(Default)]
pub struct Enqueues {
    queue: std::sync::OnceLock<tokio::sync::mpsc::Sender<EnqueueRequest>>,
}

impl Enqueues {
    /// Stores `job` (together with the others arriving with it).
    pub(crate) async fn enqueue(
        &self,
        store: &Arc<dyn crate::store::Store>,
        job: NewJob,
    ) -> Result<Enqueued, crate::store::StoreError> {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(FINISH_QUEUE);
            tokio::spawn(enqueue_in_batches(store.clone(), rx));
            tx
        });
        let (reply, answer) = tokio::sync::oneshot::channel();
        match queue.send((job, reply)).await {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(crate::store::StoreError::Config(
                    "the enqueue batcher stopped before storing this job".into(),
                ))
            }),
            // The batcher's runtime is gone (a runtime used from another one): store it here.
            Err(tokio::sync::mpsc::error::SendError((job, _))) => {
                store.job_enqueue(&job, now_ms()).await
            }
        }
    }
}

async fn enqueue_in_batches(
    store: Arc<dyn crate::store::Store>,
    mut requests: tokio::sync::mpsc::Receiver<EnqueueRequest>,
) {
    let mut batch: Vec<EnqueueRequest> = Vec::with_capacity(ENQUEUE_BATCH);
    while requests.recv_many(&mut batch, ENQUEUE_BATCH).await > 0 {
        let jobs: Vec<NewJob> = batch.iter().map(|(j, _)| j.clone()).collect();
        match store.job_enqueue_many(&jobs, now_ms()).await {
            Ok(done) => {
                for ((_, reply), done) in batch.drain(..).zip(done) {
                    let _ = reply.send(Ok(done));
                }
            }
            // One bad job must not fail the others: each alone, as without batching.
            Err(e) => {
                tracing::warn!(
                    jobs = batch.len(),
                    "batched enqueue failed, storing the jobs one by one: {e}"
                );
                for (job, reply) in batch.drain(..) {
                    let _ = reply.send(store.job_enqueue(&job, now_ms()).await);
                }
            }
        }
    }
}

/// Jobs one claim takes at most.
const CLAIM_BATCH: u32 = 64;
/// Attempt ends one transaction records at most.
const FINISH_BATCH: usize = 256;
/// Attempt ends waiting for the finisher (an attempt waits for room, never drops its end).
const FINISH_QUEUE: usize = 1024;

type FinishRequest = (
    crate::store::Finish,
    tokio::sync::oneshot::Sender<Result<bool, crate::store::StoreError>>,
);

/// Hands an attempt's end to the finisher and waits until it is stored.
#[derive(Clone)]
struct Finisher(tokio::sync::mpsc::Sender<FinishRequest>);

impl Finisher {
    async fn finish(
        &self,
        store: &dyn crate::store::Store,
        id: &str,
        attempt: u32,
        outcome: JobOutcome,
    ) -> Result<bool, crate::store::StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let finish = crate::store::Finish {
            id: id.to_string(),
            attempt,
            outcome,
        };
        match self.0.send((finish, tx)).await {
            Ok(()) => match rx.await {
                Ok(result) => result,
                // The finisher is gone (it never is while attempts run): store it here.
                Err(_) => Err(crate::store::StoreError::Config(
                    "the job finisher stopped before recording this attempt".into(),
                )),
            },
            Err(tokio::sync::mpsc::error::SendError((finish, _))) => {
                store
                    .job_finish(&finish.id, finish.attempt, &finish.outcome, now_ms())
                    .await
            }
        }
    }
}

/// Records attempt ends as they come, every one waiting at that moment in one transaction:
/// under load many ends share a commit; alone, an end is written at once.
async fn finish_in_batches(
    store: Arc<dyn crate::store::Store>,
    mut finishes: tokio::sync::mpsc::Receiver<FinishRequest>,
) {
    let mut batch: Vec<FinishRequest> = Vec::with_capacity(FINISH_BATCH);
    while finishes.recv_many(&mut batch, FINISH_BATCH).await > 0 {
        let ends: Vec<crate::store::Finish> = batch.iter().map(|(f, _)| f.clone()).collect();
        match store.job_finish_many(&ends, now_ms()).await {
            Ok(done) => {
                for ((_, reply), done) in batch.drain(..).zip(done) {
                    let _ = reply.send(Ok(done));
                }
            }
            // One bad end must not cost the others theirs: each alone, as before batching.
            Err(e) => {
                tracing::warn!(
                    ends = batch.len(),
                    "batched job ends failed, recording them one by one: {e}"
                );
                for (f, reply) in batch.drain(..) {
                    let _ = reply.send(
                        store
                            .job_finish(&f.id, f.attempt, &f.outcome, now_ms())
                            .await,
                    );
                }
            }
        }
    }
}

async fn claimer(
    rt: Arc<Runtime>,
    owner: String,
    options: WorkerOptions,
    stop: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
    finisher: Finisher,
) {
    let store = rt.shared().store.clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(options.workers.max(1)));
    let mut running = JoinSet::new();
    while !stop.load(Ordering::SeqCst) {
        while running.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free == 0 {
            // Wait for a slot (an attempt ending) or a stop.
            tokio::select! {
                permit = slots.clone().acquire_owned() => drop(permit),
                _ = wake.notified() => {}
            }
            continue;
        }
        let now = now_ms();
        let limit = u32::try_from(free).unwrap_or(CLAIM_BATCH).min(CLAIM_BATCH);
        match store
            .job_claim_many(&owner, now, now + ms(options.lease), limit)
            .await
        {
            Ok(jobs) if !jobs.is_empty() => {
                for job in jobs {
                    // Only this loop takes slots, and it claimed no more than were free.
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        break;
                    };
                    let span = tracing::info_span!(
                        "job",
                        job_id = %job.id,
                        adapter = %job.adapter,
                        op = %job.op,
                        attempt = job.attempt
                    );
                    let (rt, owner, options, finisher) =
                        (rt.clone(), owner.clone(), options.clone(), finisher.clone());
                    running.spawn(
                        async move {
                            run_attempt(&rt, &owner, job, &options, &finisher).await;
                            drop(permit);
                        }
                        .instrument(span),
                    );
                }
            }
            Ok(_) => {
                let shared_wake = rt.shared().jobs_wakeup.notified();
                let store_wake = store.job_wakeup();
                let other_nodes = async {
                    match &store_wake {
                        Some(n) => n.notified().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = shared_wake => {}
                    _ = wake.notified() => {}
                    _ = other_nodes => {}
                    _ = tokio::time::sleep(options.poll) => {}
                }
            }
            Err(e) => {
                tracing::warn!("job queue unavailable: {e}");
                tokio::time::sleep(options.poll).await;
            }
        }
    }
    while running.join_next().await.is_some() {}
}

/// Renews an attempt's lease while it runs; dropping it stops the renewals, however the
/// attempt ended (an early return or a panic included).
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Kinds worth another attempt later.
fn retryable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Transient | ErrorKind::Timeout | ErrorKind::Unavailable | ErrorKind::Busy
    )
}

async fn run_attempt(
    rt: &Arc<Runtime>,
    owner: &str,
    job: JobRecord,
    options: &WorkerOptions,
    finisher: &Finisher,
) {
    let store = rt.shared().store.clone();
    let Some(adapter) = rt.registry().get(&job.adapter) else {
        // Its manifest is gone or broken: the job waits, visible as queued, for it to return.
        let _ = finisher
            .finish(
                store.as_ref(),
                &job.id,
                job.attempt,
                JobOutcome::Release {
                    run_at_ms: now_ms() + 5_000,
                },
            )
            .await;
        return;
    };
    let _heartbeat = {
        let store = store.clone();
        let (id, attempt, lease) = (job.id.clone(), job.attempt, options.lease);
        Heartbeat(tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store
                    .job_heartbeat(&id, attempt, now_ms() + ms(lease))
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = %id, attempt, "lease lost: a newer attempt owns the job");
                        return;
                    }
                    Err(e) => tracing::warn!(job = %id, "heartbeat failed: {e}"),
                }
            }
        }))
    };
    let started = std::time::Instant::now();
    let metrics = &rt.shared().metrics;
    metrics
        .job_lag_seconds
        .get_or_create(&crate::metrics::AdapterLabels {
            adapter: job.adapter.clone(),
        })
        .observe((now_ms() - job.run_at_ms).max(0) as f64 / 1000.0);
    let options = CallOptions {
        call_id: Some(job.id.clone()),
        job_id: Some(job.id.clone()),
        idempotency_key: job.idempotency_key.clone(),
        first_attempt: Some(job.attempt),
        max_attempts: Some(1),
        deadline: None,
    };
    let result = match job.op.strip_prefix(crate::schedule::JOB_PREFIX) {
        Some(schedule) => adapter
            .run_schedule(schedule, options)
            .await
            .map(|()| serde_json::json!({ "schedule": schedule, "ran": true }).to_string()),
        None => adapter.invoke(&job.op, &job.input, options).await,
    };
    let outcome = match result {
        Ok(output) => JobOutcome::Succeeded(output),
        Err(e) => {
            let problem = e.problem().to_string();
            if retryable(e.kind) && job.attempt < job.max_attempts {
                let wait =
                    crate::invoke::backoff(&adapter.manifest.retry, job.attempt, e.retry_after_ms);
                JobOutcome::Retry {
                    run_at_ms: now_ms() + ms(wait),
                    error: problem,
                }
            } else {
                JobOutcome::Dead(problem)
            }
        }
    };
    match finisher
        .finish(store.as_ref(), &job.id, job.attempt, outcome.clone())
        .await
    {
        Ok(true) => {
            let (state, label) = match &outcome {
                JobOutcome::Succeeded(_) => ("succeeded", "succeeded"),
                JobOutcome::Retry { .. } => ("queued for retry", "retry"),
                JobOutcome::Dead(_) => ("dead", "dead"),
                JobOutcome::Release { .. } => ("released", "released"),
            };
            metrics
                .job_attempt_seconds
                .get_or_create(&crate::metrics::AttemptLabels {
                    adapter: job.adapter.clone(),
                    outcome: label.to_string(),
                })
                .observe(started.elapsed().as_secs_f64());
            tracing::info!(job = %job.id, adapter = %job.adapter, op = %job.op, attempt = job.attempt, owner, "job attempt ended: {state}");
        }
        Ok(false) => {
            tracing::warn!(job = %job.id, attempt = job.attempt, "a newer attempt owns the job: this attempt's result is dropped")
        }
        Err(e) => {
            tracing::warn!(job = %job.id, "job result could not be stored (the lease will lapse and the job run again): {e}")
        }
    }
}

/// How many finished jobs one retention pass deletes per statement.
const PRUNE_BATCH: u32 = 500;

/// Prunes finished jobs older than `retention` every `every`, in batches; dropping it stops.
pub struct Retention {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Retention {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Runtime {
    /// Deletes finished jobs (succeeded, dead, cancelled) last changed more than `retention`
    /// ago, in batches of a few hundred so that no transaction holds the queue for long;
    /// returns how many.
    pub async fn prune_jobs(&self, retention: Duration) -> Result<u64, crate::store::StoreError> {
        let before = now_ms().saturating_sub(ms(retention));
        let store = &self.shared().store;
        let mut total = 0;
        loop {
            let n = store.job_prune(before, PRUNE_BATCH).await?;
            total += n;
            self.shared().metrics.jobs_pruned.inc_by(n);
            if n < u64::from(PRUNE_BATCH) {
                break;
            }
            // Let the queue's own statements in between batches.
            tokio::task::yield_now().await;
        }
        Ok(total)
    }

    /// Starts pruning finished jobs older than `retention`, once now and then every `every`.
    pub fn start_retention(self: &Arc<Self>, retention: Duration, every: Duration) -> Retention {
        let rt = self.clone();
        let task = tokio::spawn(async move {
            loop {
                match rt.prune_jobs(retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "finished jobs past their retention pruned"),
                    Err(e) => {
                        tracing::warn!("job retention could not run (tried again later): {e}")
                    }
                }
                tokio::time::sleep(every).await;
            }
        });
        Retention { task }
    }

    /// One job, as the store has it.
    pub async fn job(&self, id: &str) -> Result<Option<JobRecord>, crate::store::StoreError> {
        self.shared().store.job_get(id).await
    }

    /// Cancels a queued or dead job: it never runs (again).
    pub async fn cancel_job(&self, id: &str) -> Result<JobChange, crate::store::StoreError> {
        cancel(self.shared().store.as_ref(), id).await
    }

    /// Puts a dead job back in the queue with its adapter's `[retry] max_attempts` more
    /// attempts (the default policy's when the adapter is not loaded).
    pub async fn retry_job(&self, id: &str) -> Result<JobChange, crate::store::StoreError> {
        let store = self.shared().store.as_ref();
        let Some(job) = store.job_get(id).await? else {
            return Ok(JobChange::NotFound);
        };
        let adapter = self.registry().get(&job.adapter);
        let attempts = retry_attempts(adapter.as_ref().map(|a| &a.manifest));
        let change = retry(store, id, attempts).await?;
        if change == JobChange::Done {
            self.shared().jobs_wakeup.notify_waiters();
        }
        Ok(change)
    }
}

/// What an operator's retry or cancel of a job did. The front door and the CLI both change
/// jobs through [`retry`] and [`cancel`], so they cannot disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobChange {
    /// Done.
    Done,
    /// No such job.
    NotFound,
    /// The job is in a state that does not allow it (running or finished for a cancel; not
    /// dead for a retry).
    Refused(crate::store::JobState),
}

/// Attempts a retried job gets: its adapter's `[retry] max_attempts` (the default policy's
/// without a manifest).
pub fn retry_attempts(manifest: Option<&crate::manifest::Manifest>) -> u32 {
    manifest.map_or(crate::manifest::RetryPolicy::default().max_attempts, |m| {
        m.retry.max_attempts
    })
}

/// Puts dead job `id` back in the queue with `attempts` attempts.
pub async fn retry(
    store: &dyn crate::store::Store,
    id: &str,
    attempts: u32,
) -> Result<JobChange, crate::store::StoreError> {
    let Some(job) = store.job_get(id).await? else {
        return Ok(JobChange::NotFound);
    };
    if store.job_retry(id, attempts.max(1), now_ms()).await? {
        tracing::info!(job = %id, attempts, "dead job queued again");
        Ok(JobChange::Done)
    } else {
        Ok(JobChange::Refused(job.state))
    }
}

/// Cancels queued or dead job `id`: it never runs (again).
pub async fn cancel(
    store: &dyn crate::store::Store,
    id: &str,
) -> Result<JobChange, crate::store::StoreError> {
    let Some(job) = store.job_get(id).await? else {
        return Ok(JobChange::NotFound);
    };
    if store.job_cancel(id, now_ms()).await? {
        tracing::info!(job = %id, "job cancelled");
        Ok(JobChange::Done)
    } else {
        Ok(JobChange::Refused(job.state))
    }
}
