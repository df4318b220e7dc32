//! The half of [`crate::store::JobStore`] both backends write alike: the statements are the
//! shared SQL of `store::sql` and the Rust around them is the same, so it is written here once.
//! What truly differs (enqueues, claims, batched ends, PostgreSQL's wake-ups) each backend
//! writes itself and passes in, to stand in the same `impl`.

/// How a fair claim goes, from the claim's `limit` and the adapters' `shares`: nothing to
/// claim, one adapter alone (its share, a simpler statement), or several to deal among.
pub(crate) enum FairClaim<'a> {
    /// No adapter has room, or the claim takes none.
    Nothing,
    /// One adapter, and at most this many of its jobs.
    One(&'a str, u32),
    /// Several adapters with room.
    Several(Vec<&'a (String, u32)>),
}

impl<'a> FairClaim<'a> {
    /// The claim of `limit` jobs among `shares`.
    pub(crate) fn of(limit: u32, shares: &'a [(String, u32)]) -> Self {
        let shares: Vec<&(String, u32)> = shares.iter().filter(|(_, n)| *n > 0).collect();
        match shares.as_slice() {
            _ if limit == 0 => Self::Nothing,
            [] => Self::Nothing,
            [(adapter, cap)] => Self::One(adapter, limit.min(*cap)),
            _ => Self::Several(shares),
        }
    }
}

/// Writes [`crate::store::JobStore`] for a backend: `$store`, writing through its pool `pool`
/// and reading through `$read`, with its own methods (`$more`) beside the shared ones. The
/// shared ones call the backend module's `finish_query` (an attempt's end, in its dialect),
/// `job_from_row`, `JOB_COLUMNS` and `oldest_queued`, and the backend's `claim_one_sql` (the
/// claim of one adapter's jobs) and `claim_several` (a fair claim among several).
macro_rules! impl_job_store {
    ($store:ty, $read:ident $(, $more:item)*) => {
        const _: () = {
            use $crate::store::{JobFilter, JobOutcome, JobRecord, JobState, JobStore, StoreError, sql};
            use async_trait::async_trait;

            #[async_trait]
            impl JobStore for $store {
                async fn job_claim_fair(
                    &self,
                    owner: &str,
                    now_ms: i64,
                    lease_until_ms: i64,
                    limit: u32,
                    shares: &[(String, u32)],
                    reclaim: bool,
                ) -> Result<Vec<JobRecord>, StoreError> {
                    use $crate::store::jobs_impl::FairClaim;
                    match FairClaim::of(limit, shares) {
                        FairClaim::Nothing => Ok(Vec::new()),
                        FairClaim::One(adapter, n) => {
                            let rows = sqlx::query(claim_one_sql())
                                .bind(owner)
                                .bind(lease_until_ms)
                                .bind(now_ms)
                                .bind(i64::from(n))
                                .bind(adapter)
                                .bind(reclaim)
                                .fetch_all(&self.pool)
                                .await?;
                            Ok(rows.iter().map(job_from_row).collect())
                        }
                        FairClaim::Several(shares) => {
                            self.claim_several(owner, now_ms, lease_until_ms, limit, &shares, reclaim)
                                .await
                        }
                    }
                }

                async fn job_heartbeat(
                    &self,
                    id: &str,
                    attempt: u32,
                    lease_until_ms: i64,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query(sql::JOB_HEARTBEAT)
                        .bind(lease_until_ms)
                        .bind(id)
                        .bind(i64::from(attempt))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn job_finish(
                    &self,
                    id: &str,
                    attempt: u32,
                    outcome: &JobOutcome,
                    now_ms: i64,
                ) -> Result<bool, StoreError> {
                    // The fence (same attempt, still running) makes a late finisher's update a no-op.
                    let done = finish_query(outcome, now_ms)
                        .bind(id.to_string())
                        .bind(i64::from(attempt))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn job_get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
                    let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(row.map(|r| job_from_row(&r)))
                }

                async fn job_page(
                    &self,
                    filter: &JobFilter<'_>,
                    limit: u32,
                ) -> Result<Vec<JobRecord>, StoreError> {
                    let (after_created, after_id) = match filter.after {
                        Some((c, id)) => (Some(c), Some(id)),
                        None => (None, None),
                    };
                    let rows = sqlx::query(&format!(
                        "SELECT {} {}",
                        sql::LIST_COLUMNS,
                        sql::JOB_PAGE
                    ))
                    .bind(filter.state.map(JobState::as_str))
                    .bind(filter.state.map(JobState::as_str))
                    .bind(filter.adapter)
                    .bind(filter.adapter)
                    .bind(after_created)
                    .bind(after_created)
                    .bind(after_created)
                    .bind(after_id)
                    .bind(i64::from(limit))
                    .bind(filter.op)
                    .bind(filter.op)
                    .bind(filter.idempotency_key)
                    .bind(filter.idempotency_key)
                    .bind(filter.since_ms)
                    .bind(filter.since_ms)
                    .bind(filter.until_ms)
                    .bind(filter.until_ms)
                    .fetch_all(&self.$read)
                    .await?;
                    Ok(rows.iter().map(job_from_row).collect())
                }

                async fn job_retry(
                    &self,
                    id: &str,
                    extra_attempts: u32,
                    now_ms: i64,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query(sql::JOB_RETRY)
                        .bind(i64::from(extra_attempts))
                        .bind(now_ms)
                        .bind(now_ms)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn job_active(&self, adapter: &str, op: &str) -> Result<bool, StoreError> {
                    let row = sqlx::query(sql::JOB_ACTIVE)
                        .bind(adapter)
                        .bind(op)
                        .fetch_optional(&self.$read)
                        .await?;
                    Ok(row.is_some())
                }

                async fn job_cancel(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
                    let done = sqlx::query(sql::JOB_CANCEL)
                        .bind(now_ms)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn job_prune(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError> {
                    let done = sqlx::query(sql::JOB_PRUNE)
                        .bind(before_ms)
                        .bind(i64::from(limit))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn job_prune_succeeded(
                    &self,
                    op_prefix: &str,
                    before_ms: i64,
                    limit: u32,
                ) -> Result<u64, StoreError> {
                    let done = sqlx::query(sql::JOB_PRUNE_SUCCEEDED)
                        .bind(before_ms)
                        .bind(sql::like_prefix(op_prefix))
                        .bind(i64::from(limit))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn job_release_owner(&self, owner: &str, now_ms: i64) -> Result<u64, StoreError> {
                    let done = sqlx::query(
                        "UPDATE jobs SET state = 'queued', attempt = attempt - 1, run_at_ms = $1, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $2 \
                         WHERE lease_owner = $3 AND state = 'running'",
                    )
                    .bind(now_ms)
                    .bind(now_ms)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected())
                }

                async fn job_oldest_queued(
                    &self,
                    adapters: &[String],
                ) -> Result<Vec<(String, i64)>, StoreError> {
                    self.oldest_queued(adapters).await
                }

                async fn job_counts(&self) -> Result<Vec<(String, JobState, i64)>, StoreError> {
                    let rows = sqlx::query(sql::JOB_COUNTS)
                        .fetch_all(&self.$read)
                        .await?;
                    Ok(rows
                        .iter()
                        .filter_map(|r| {
                            JobState::parse(sqlx::Row::get::<&str, _>(r, 1)).map(|s| {
                                (
                                    sqlx::Row::get::<String, _>(r, 0),
                                    s,
                                    sqlx::Row::get::<i64, _>(r, 2),
                                )
                            })
                        })
                        .collect())
                }

                $($more)*
            }
        };
    };
}
pub(crate) use impl_job_store;

/// Writes a backend's `finish_query`: the statement recording one attempt's end, its job id
/// and attempt bound after it, for the backend's database `$db` and arguments `$args`. Only the
/// statements of a retry and of a death differ between dialects (how the attempt's error is
/// appended to the last 20): the backend gives them, `$retry` and `$dead`.
macro_rules! finish_query {
    ($db:ty, $args:ty, $retry:expr, $dead:expr) => {
        /// The statement recording one attempt's end; the job id and attempt are bound after it.
        fn finish_query(
            outcome: &$crate::store::JobOutcome,
            now_ms: i64,
        ) -> sqlx::query::Query<'static, $db, $args> {
            use $crate::store::JobOutcome;
            match outcome {
                JobOutcome::Succeeded(output) => sqlx::query($crate::store::sql::JOB_SUCCEED)
                    .bind(output.clone())
                    .bind(now_ms),
                JobOutcome::Retry { run_at_ms, error } => sqlx::query($retry)
                    .bind(*run_at_ms)
                    .bind(error.clone())
                    .bind(now_ms),
                JobOutcome::Dead(error) => sqlx::query($dead).bind(error.clone()).bind(now_ms),
                JobOutcome::Release { run_at_ms } => sqlx::query($crate::store::sql::JOB_RELEASE)
                    .bind(*run_at_ms)
                    .bind(now_ms),
            }
        }
    };
}
pub(crate) use finish_query;

/// In a backend's batched finish: records on connection `$conn` every end of `$finished` that
/// is no success (each its own fenced statement, by the backend's `finish_query`), and answers
/// the whole batch's answers with `$recorded`, the successes the batch statement recorded.
macro_rules! finish_the_rest {
    ($finished:expr, $recorded:expr, $now_ms:expr, $conn:expr) => {{
        let mut others = Vec::new();
        for f in $finished {
            if !matches!(f.outcome, $crate::store::JobOutcome::Succeeded(_)) {
                let done = finish_query(&f.outcome, $now_ms)
                    .bind(f.id.clone())
                    .bind(i64::from(f.attempt))
                    .execute(&mut *$conn)
                    .await?;
                others.push(done.rows_affected() == 1);
            }
        }
        Ok($crate::store::jobs_impl::end_answers(
            $finished, $recorded, others,
        ))
    }};
}
pub(crate) use finish_the_rest;

/// In a backend's enqueue: answers what became of each of `$jobs` on connection `$conn`, given
/// the ids of those the insert stored (`$inserted`); a keyed job that was not inserted is read
/// back by its key (the same request: the existing job; another: a conflict).
macro_rules! enqueue_answers {
    ($jobs:expr, $inserted:expr, $conn:expr) => {{
        let mut out = Vec::with_capacity($jobs.len());
        for outcome in $crate::store::jobs_impl::insert_outcomes($jobs, $inserted) {
            out.push(match outcome {
                Ok(done) => done,
                Err(job) => {
                    let row = sqlx::query($crate::store::sql::JOB_BY_KEY)
                        .bind(&job.adapter)
                        .bind(&job.idempotency_key)
                        .fetch_one(&mut *$conn)
                        .await?;
                    $crate::store::jobs_impl::keyed_outcome(job, row.get(0), row.get(1))
                }
            });
        }
        Ok(out)
    }};
}
pub(crate) use enqueue_answers;

/// What an insert of `jobs` did for each, in order, as far as the ids it inserted tell: the
/// answer, or (`Err`) a keyed job that was not inserted, whose key's job must be looked up
/// ([`keyed_outcome`]). Both backends answer enqueues through this.
pub(crate) fn insert_outcomes<'a>(
    jobs: &'a [crate::store::NewJob],
    inserted: &std::collections::HashSet<String>,
) -> Vec<Result<crate::store::Enqueued, &'a crate::store::NewJob>> {
    let mut taken = std::collections::HashSet::new();
    jobs.iter()
        .map(|job| {
            // An id inserted once: a second job of the batch with the same id was not.
            if inserted.contains(&job.id) && taken.insert(job.id.as_str()) {
                return Ok(crate::store::Enqueued::New(job.id.clone()));
            }
            match job.idempotency_key {
                Some(_) => Err(job),
                None => Ok(crate::store::Enqueued::Existing(job.id.clone())),
            }
        })
        .collect()
}

/// What enqueueing keyed `job` did, given the job that holds its key (`id`) and what the key was
/// used for then (`hash`): the same request names that job; another is a conflict.
pub(crate) fn keyed_outcome(
    job: &crate::store::NewJob,
    id: String,
    hash: Option<String>,
) -> crate::store::Enqueued {
    if hash == job.request_hash {
        crate::store::Enqueued::Existing(id)
    } else {
        crate::store::Enqueued::KeyConflict(id)
    }
}

/// The answers of [`crate::store::JobStore::job_finish_many`], in order: a success is recorded where the
/// batch's update returned its `(id, attempt)` in `recorded` (once, should an end be sent twice);
/// every other end takes the next of `others`, the results of their own statements in order.
pub(crate) fn end_answers(
    finished: &[crate::store::Finish],
    mut recorded: std::collections::HashSet<(String, i64)>,
    others: Vec<bool>,
) -> Vec<bool> {
    let mut others = others.into_iter();
    finished
        .iter()
        .map(|f| match f.outcome {
            crate::store::JobOutcome::Succeeded(_) => {
                recorded.remove(&(f.id.clone(), i64::from(f.attempt)))
            }
            _ => others.next().unwrap_or(false),
        })
        .collect()
}
