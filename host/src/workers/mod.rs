//! The worker pool: one claimer that takes as many due jobs as there are free slots in one
//! round trip, shared fairly among the adapters that can run them now (see
//! [`crate::store::JobStore::job_claim_fair`]), runs them under a lease renewed by heartbeat,
//! retries transient failures with backoff, buries the rest, and records the attempts' ends
//! in batches.
//!
//! It sits above the runtime (it runs jobs through it); what a job is, and how enqueues and
//! ends are committed, is [`crate::jobs`].

use crate::call::CallOptions;
use crate::clock::{ms, now_ms};
use crate::jobs::Finishes;
use crate::runtime::Runtime;
use crate::store::{Finish, JobOutcome, JobRecord};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tracing::Instrument;

mod shares;
use shares::{Round, shares, worker_slots};

/// Jobs one claim takes at most.
const CLAIM_BATCH: u32 = 64;

/// How often a claim also looks for lapsed leases.
const RECLAIM_EVERY_MS: i64 = 1_000;

/// Settings of the worker pool.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once across all adapters (each adapter's `limits.concurrency` also holds);
    /// 0: every loaded adapter's `limits.concurrency` together, from 16 to 512.
    pub workers: usize,
    /// How long a claimed attempt owns its job without a heartbeat.
    pub lease: Duration,
    /// How often idle workers look for due jobs (an enqueue wakes them at once).
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            workers: 0,
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

impl Workers {
    /// Starts the worker pool: one claimer that takes as many due jobs as there are free
    /// slots in one round trip, up to `workers` attempts at once, whose ends are committed in
    /// batches.
    pub fn start(runtime: &Arc<Runtime>, options: WorkerOptions) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(tokio::sync::Notify::new());
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4());
        let finishes = Arc::new(Finishes::default());
        let mut tasks = JoinSet::new();
        {
            let rt = runtime.clone();
            let stop = stop.clone();
            let wake = wake.clone();
            let owner = owner.clone();
            tasks.spawn(async move { claimer(rt, owner, options, stop, wake, finishes).await });
        }
        Workers {
            stop,
            wake,
            tasks,
            runtime: runtime.clone(),
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
        // The claimer ends once every attempt it started has, and an attempt once its end is
        // committed.
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

/// The claim loop of one process: claims its fair share of due jobs for the free workers,
/// starts their attempts, and waits for an enqueue (here or on another node), a freed share
/// or the poll. Longer than most because the wake-ups it waits on are registered before the
/// claim they guard and awaited after it, in one scope: split apart, an enqueue between the
/// two would be missed until the next poll.
async fn claimer(
    rt: Arc<Runtime>,
    owner: String,
    options: WorkerOptions,
    stop: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
    finishes: Arc<Finishes>,
) {
    let store = rt.shared().store.clone();
    let other_nodes = store.job_wakeup();
    let in_hand = InHand::default();
    let mut running = JoinSet::new();
    // When the claim next looks for lapsed leases (a dead claimer's jobs): they lapse after
    // `--job-lease`, so once a second is soon enough, and the claims between skip that scan.
    let mut next_reclaim = 0;
    while !stop.load(Ordering::SeqCst) {
        while running.try_join_next().is_some() {}
        let free = worker_slots(&rt, options.workers).saturating_sub(running.len());
        if free == 0 {
            // Wait for an attempt to end, or a stop.
            tokio::select! {
                _ = running.join_next() => {}
                _ = wake.notified() => {}
            }
            continue;
        }
        // Registered before the claim: an enqueue while it runs (here or on another node)
        // must not be missed, or its job would wait for the next poll.
        let enqueued = rt.shared().jobs_wakeup.notified();
        let enqueued_elsewhere = async {
            match &other_nodes {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        let mut enqueued = std::pin::pin!(enqueued);
        enqueued.as_mut().enable();
        let paused = rt.shared().pauses.all().await;
        let held = in_hand.snapshot();
        let now = now_ms();
        let limit = u32::try_from(free).unwrap_or(CLAIM_BATCH).min(CLAIM_BATCH);
        let Round { shares, held_back } = shares(&rt, &paused, &held, now, limit).await;
        let reclaim = now >= next_reclaim;
        let claimed = if shares.is_empty() {
            Ok(Vec::new())
        } else {
            store
                .job_claim_fair(
                    &owner,
                    now,
                    now + ms(options.lease),
                    limit,
                    &shares,
                    reclaim,
                )
                .await
        };
        if reclaim && claimed.is_ok() {
            next_reclaim = now + RECLAIM_EVERY_MS;
        }
        match claimed {
            Ok(jobs) if !jobs.is_empty() => {
                for job in jobs {
                    let attempt = in_hand.start(&rt, &owner, job, &options, &finishes);
                    running.spawn(attempt);
                }
            }
            Ok(_) => {
                // An attempt ending frees its adapter's share: claim again at once then, but
                // only if a share was held back (otherwise the queue is simply empty, and a
                // claim at every attempt's end would double the store's work for nothing).
                let ended = async {
                    if !held_back || running.is_empty() {
                        std::future::pending::<()>().await;
                    } else {
                        let _ = running.join_next().await;
                    }
                };
                tokio::select! {
                    _ = enqueued => {}
                    _ = wake.notified() => {}
                    _ = enqueued_elsewhere => {}
                    _ = ended => {}
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

/// The attempts a claimer has started and not seen end, by adapter: what it holds of each
/// adapter's `limits.concurrency`.
#[derive(Clone, Default)]
struct InHand(Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>);

impl InHand {
    fn snapshot(&self) -> std::collections::HashMap<String, u32> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Counts `job` in hand and answers its attempt, which counts it out when it ends.
    fn start(
        &self,
        rt: &Arc<Runtime>,
        owner: &str,
        job: JobRecord,
        options: &WorkerOptions,
        finishes: &Arc<Finishes>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let span = tracing::info_span!(
            "job",
            job_id = %job.id,
            adapter = %job.adapter,
            op = %job.op,
            attempt = job.attempt
        );
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(job.adapter.clone())
            .or_default() += 1;
        let (rt, owner, options, finishes, in_hand) = (
            rt.clone(),
            owner.to_string(),
            options.clone(),
            finishes.clone(),
            self.clone(),
        );
        async move {
            let adapter = job.adapter.clone();
            run_attempt(&rt, &owner, job, &options, &finishes).await;
            let mut held = in_hand.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = held.get_mut(&adapter) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    held.remove(&adapter);
                }
            }
        }
        .instrument(span)
    }
}

/// Renews an attempt's lease while it runs; dropping it stops the renewals, however the
/// attempt ended (an early return or a panic included).
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    /// Renews `job`'s lease every third of `lease` until dropped or the lease is lost.
    fn start(store: Arc<dyn crate::store::Store>, job: &JobRecord, lease: Duration) -> Self {
        let (id, attempt) = (job.id.clone(), job.attempt);
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
    }
}

/// What an attempt's result makes of its job: succeeded, queued again after its backoff
/// (a retryable failure with attempts left), or dead.
fn outcome(
    result: Result<String, crate::error::InvokeError>,
    job: &JobRecord,
    retry: &crate::manifest::RetryPolicy,
) -> JobOutcome {
    match result {
        Ok(output) => JobOutcome::Succeeded(output),
        Err(e) => {
            let problem = e.problem().to_string();
            if crate::retry::retryable(e.kind) && job.attempt < job.max_attempts {
                let wait = crate::retry::backoff(retry, job.attempt, e.retry_after_ms);
                JobOutcome::Retry {
                    run_at_ms: now_ms() + ms(wait),
                    error: problem,
                }
            } else {
                JobOutcome::Dead(problem)
            }
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run_attempt(
    rt: &Arc<Runtime>,
    owner: &str,
    job: JobRecord,
    options: &WorkerOptions,
    finishes: &Finishes,
) {
    let store = rt.shared().store.clone();
    let Some(adapter) = rt.registry().get(&job.adapter) else {
        // Its manifest is gone or broken: the job waits, visible as queued, for it to return.
        let release = Finish {
            id: job.id.clone(),
            attempt: job.attempt,
            outcome: JobOutcome::Release {
                run_at_ms: now_ms() + 5_000,
            },
        };
        let _ = finishes.commit(&store, release).await;
        return;
    };
    let _heartbeat = Heartbeat::start(store.clone(), &job, options.lease);
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
        // A job's items are kept under its id by the call path: read with the job.
        items: None,
    };
    let result = match job.op.strip_prefix(crate::jobs::JOB_PREFIX) {
        Some(schedule) => adapter
            .run_schedule(schedule, options)
            .await
            .map(|()| serde_json::json!({ "schedule": schedule, "ran": true }).to_string()),
        None => adapter.invoke(&job.op, &job.input, options).await,
    };
    let outcome = outcome(result, &job, &adapter.manifest.retry);
    let end = Finish {
        id: job.id.clone(),
        attempt: job.attempt,
        outcome: outcome.clone(),
    };
    match finishes.commit(&store, end).await {
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
            if let Some(schedule) = job.op.strip_prefix(crate::jobs::JOB_PREFIX) {
                crate::jobs::runs::remember(
                    store.as_ref(),
                    &job,
                    schedule,
                    &outcome,
                    started.elapsed(),
                )
                .await;
            }
        }
        Ok(false) => {
            tracing::warn!(job = %job.id, attempt = job.attempt, "a newer attempt owns the job: this attempt's result is dropped")
        }
        Err(e) => {
            tracing::warn!(job = %job.id, "job result could not be stored (the lease will lapse and the job run again): {e}")
        }
    }
}
