//! The job queue on PostgreSQL: `FOR UPDATE SKIP LOCKED` claims and `LISTEN/NOTIFY` wake-ups
//! across nodes.

use super::PgStore;
use super::claim::claim_one_sql;
pub(super) use crate::store::jobs::job_from_row;
use crate::store::{Enqueued, Finish, JobOutcome, NewJob, StoreError};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use std::sync::Arc;

crate::store::jobs_impl::impl_job_store!(
    PgStore,
    pool,
    async fn job_enqueue_many(
        &self,
        jobs: &[NewJob],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, StoreError> {
        // One statement is atomic by itself: without keys to look up after it, it needs no
        // transaction around it, whose BEGIN and COMMIT cost a round trip each.
        if jobs.iter().all(|j| j.idempotency_key.is_none()) {
            let mut conn = self.pool.acquire().await?;
            return enqueue_on(&mut conn, jobs, now_ms, &self.jobs_channel).await;
        }
        let mut tx = self.pool.begin().await?;
        let out = enqueue_on(&mut tx, jobs, now_ms, &self.jobs_channel).await?;
        tx.commit().await?;
        Ok(out)
    },
    async fn job_finish_many(
        &self,
        finished: &[Finish],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        // One statement of successes is atomic by itself: no transaction, whose BEGIN and
        // COMMIT cost a round trip each.
        if finished
            .iter()
            .all(|f| matches!(f.outcome, JobOutcome::Succeeded(_)))
        {
            let mut conn = self.pool.acquire().await?;
            return finish_on(&mut conn, finished, now_ms).await;
        }
        let mut tx = self.pool.begin().await?;
        let out = finish_on(&mut tx, finished, now_ms).await?;
        tx.commit().await?;
        Ok(out)
    },
    async fn job_claim_many(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        self.claim_many(owner, now_ms, lease_until_ms, limit).await
    },
    fn job_wakeup(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.wakeup.clone())
    }
);

/// Enqueues `jobs` on `conn` (a transaction, or a connection for the one statement),
/// notifying `channel` if any is new.
async fn enqueue_on(
    conn: &mut PgConnection,
    jobs: &[NewJob],
    now_ms: i64,
    channel: &super::JobsChannel,
) -> Result<Vec<Enqueued>, StoreError> {
    // One statement for the lot (arrays unnested into rows): one round trip however many
    // jobs, where a statement each would cost one each.
    let column = |f: fn(&NewJob) -> String| jobs.iter().map(f).collect::<Vec<String>>();
    let optional =
        |f: fn(&NewJob) -> Option<String>| jobs.iter().map(f).collect::<Vec<Option<String>>>();
    // The other nodes' workers are woken by a notification sent with the insert, once for
    // the lot and only if a job is new; it is delivered at commit.
    let inserted: Vec<Option<String>> = sqlx::query_scalar(
        "WITH ins AS ( \
           INSERT INTO jobs (id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, request_hash, created_at_ms, updated_at_ms, priority) \
           SELECT id, adapter, op, input, 'queued', 0, max_attempts, run_at_ms, idempotency_key, request_hash, $9, $9, priority \
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $11::smallint[]) \
                AS t(id, adapter, op, input, max_attempts, run_at_ms, idempotency_key, request_hash, priority) \
           ON CONFLICT DO NOTHING RETURNING id), \
         woken AS (SELECT pg_notify($10, $12) FROM (SELECT 1 FROM ins LIMIT 1) AS any_new) \
         SELECT id FROM ins UNION ALL SELECT NULL FROM woken",
    )
    .bind(column(|j| j.id.clone()))
    .bind(column(|j| j.adapter.clone()))
    .bind(column(|j| j.op.clone()))
    .bind(column(|j| j.input.clone()))
    .bind(jobs.iter().map(|j| i64::from(j.max_attempts)).collect::<Vec<i64>>())
    .bind(jobs.iter().map(|j| j.run_at_ms).collect::<Vec<i64>>())
    .bind(optional(|j| j.idempotency_key.clone()))
    .bind(optional(|j| j.request_hash.clone()))
    .bind(now_ms)
    .bind(&channel.name)
    .bind(
        jobs.iter()
            .map(|j| i16::from(j.priority > 0))
            .collect::<Vec<i16>>(),
    )
    .bind(&channel.node)
    .fetch_all(&mut *conn)
    .await?;
    let inserted: std::collections::HashSet<String> = inserted.into_iter().flatten().collect();
    crate::store::jobs_impl::enqueue_answers!(jobs, &inserted, conn)
}

/// Records the ends of `finished` on `conn` (a transaction, or a connection for one statement).
async fn finish_on(
    conn: &mut PgConnection,
    finished: &[Finish],
    now_ms: i64,
) -> Result<Vec<bool>, StoreError> {
    // Successes, nearly every end, as one statement (arrays unnested into rows): one round
    // trip for the lot, where a statement each cost one each inside the transaction.
    let mut ids = Vec::new();
    let mut attempts = Vec::new();
    let mut outputs = Vec::new();
    for f in finished {
        if let JobOutcome::Succeeded(output) = &f.outcome {
            ids.push(f.id.as_str());
            attempts.push(i64::from(f.attempt));
            outputs.push(output.as_str());
        }
    }
    let mut recorded = std::collections::HashSet::new();
    if !ids.is_empty() {
        let rows = sqlx::query(
            "UPDATE jobs SET state = 'succeeded', output = ended.output, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $4 \
             FROM UNNEST($1::text[], $2::bigint[], $3::text[]) AS ended(id, attempt, output) \
             WHERE jobs.id = ended.id AND jobs.attempt = ended.attempt AND jobs.state = 'running' \
             RETURNING jobs.id, jobs.attempt",
        )
        .bind(&ids)
        .bind(&attempts)
        .bind(&outputs)
        .bind(now_ms)
        .fetch_all(&mut *conn)
        .await?;
        recorded.extend(
            rows.iter()
                .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1))),
        );
    }
    crate::store::jobs_impl::finish_the_rest!(finished, recorded, now_ms, conn)
}

/// A failed attempt queued again: its error appended to the last 20 (in this dialect's JSON).
const JOB_RETRY: &str = "UPDATE jobs SET state = 'queued', run_at_ms = $1, last_error = $2, errors = (CASE WHEN jsonb_array_length(COALESCE(errors, '[]')::jsonb) >= 20 THEN COALESCE(errors, '[]')::jsonb - 0 ELSE COALESCE(errors, '[]')::jsonb END || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at_ms', $3::bigint, 'error', $2::jsonb)))::text, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $3 WHERE id = $4 AND attempt = $5 AND state = 'running'";
/// A failed attempt that was the last: the job dead, its error appended to the last 20.
const JOB_DEAD: &str = "UPDATE jobs SET state = 'dead', last_error = $1, errors = (CASE WHEN jsonb_array_length(COALESCE(errors, '[]')::jsonb) >= 20 THEN COALESCE(errors, '[]')::jsonb - 0 ELSE COALESCE(errors, '[]')::jsonb END || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at_ms', $2::bigint, 'error', $1::jsonb)))::text, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $2 WHERE id = $3 AND attempt = $4 AND state = 'running'";

crate::store::jobs_impl::finish_query!(
    sqlx::Postgres,
    sqlx::postgres::PgArguments,
    JOB_RETRY,
    JOB_DEAD
);

/// What a claim answers: a job without its attempt history (a worker has no use for it), named
/// through the table (a claim's update joins the rows it picked).
pub(super) const CLAIM_COLUMNS_OF_JOBS: &str = "jobs.id, jobs.adapter, jobs.op, jobs.input, jobs.state, jobs.attempt, jobs.max_attempts, jobs.run_at_ms, jobs.idempotency_key, jobs.output, jobs.last_error, jobs.created_at_ms, jobs.updated_at_ms";

const JOB_COLUMNS: &str = "id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, output, last_error, created_at_ms, updated_at_ms, errors";
