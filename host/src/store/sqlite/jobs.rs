//! The job queue on SQLite: claims through the one writer connection, `RETURNING` for ids.

use super::SqliteStore;
use super::claim::claim_one_sql;
pub(super) use crate::store::jobs::job_from_row;
use crate::store::{Enqueued, Finish, JobOutcome, NewJob, StoreError};
use sqlx::Row;
use sqlx::sqlite::SqliteConnection;

/// Jobs one insert statement holds at most (eleven parameters each, far below SQLite's limit of
/// 32,766).
const ENQUEUE_ROWS: usize = 1000;
/// Successes one update statement records at most (three parameters each).
const FINISH_ROWS: usize = 1000;

crate::store::jobs_impl::impl_job_store!(
    SqliteStore,
    reader,
    async fn job_enqueue_many(
        &self,
        jobs: &[NewJob],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, StoreError> {
        // One insert statement is atomic by itself: without keys to look up after it, it needs
        // no transaction around it, whose BEGIN and COMMIT cost a hop each.
        if jobs.len() <= ENQUEUE_ROWS && jobs.iter().all(|j| j.idempotency_key.is_none()) {
            let mut conn = self.pool.acquire().await?;
            return enqueue_on(&mut conn, jobs, now_ms).await;
        }
        self.transaction(async |conn| enqueue_on(conn, jobs, now_ms).await)
            .await
    },
    async fn job_finish_many(
        &self,
        finished: &[Finish],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        // One statement of successes is atomic by itself: no transaction, whose BEGIN and
        // COMMIT cost a hop each.
        let successes = finished
            .iter()
            .filter(|f| matches!(f.outcome, JobOutcome::Succeeded(_)))
            .count();
        if successes == finished.len() && successes <= FINISH_ROWS {
            let mut conn = self.pool.acquire().await?;
            return finish_on(&mut conn, finished, now_ms).await;
        }
        self.transaction(async |conn| finish_on(conn, finished, now_ms).await)
            .await
    },
    async fn job_claim_many(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        // Two ordered index range scans, each stopping at `limit` rows, rather than one OR over
        // both: SQLite answers an OR by collecting every matching row from each index and
        // sorting them, so a claim cost grew with the number of due jobs waiting.
        let rows = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_until_ms = ?2, updated_at_ms = ?3 \
             WHERE id IN (SELECT id FROM ( \
                            SELECT id, run_at_ms FROM (SELECT id, run_at_ms FROM jobs WHERE state = 'queued' AND run_at_ms <= ?3 ORDER BY run_at_ms LIMIT ?4) \
                            UNION ALL \
                            SELECT id, run_at_ms FROM (SELECT id, run_at_ms FROM jobs WHERE state = 'running' AND lease_until_ms < ?3 LIMIT ?4)) \
                          ORDER BY run_at_ms LIMIT ?4) \
             RETURNING {CLAIM_COLUMNS}"
        ))
        .bind(owner)
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut jobs: Vec<JobRecord> = rows.iter().map(job_from_row).collect();
        // RETURNING gives rows in the order they were changed, not the subquery's.
        jobs.sort_by_key(|j| j.run_at_ms);
        Ok(jobs)
    }
);

/// Enqueues `jobs` on `conn` (a transaction, or a connection for one statement).
async fn enqueue_on(
    conn: &mut SqliteConnection,
    jobs: &[NewJob],
    now_ms: i64,
) -> Result<Vec<Enqueued>, StoreError> {
    // Multi-row inserts: one statement for up to ENQUEUE_ROWS jobs, where a statement each
    // cost one hop to the connection's thread each (~200 µs through sqlx).
    let mut inserted = std::collections::HashSet::new();
    for chunk in jobs.chunks(ENQUEUE_ROWS) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO jobs (id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, request_hash, created_at_ms, updated_at_ms, priority) ",
        );
        insert.push_values(chunk, |mut row, job| {
            row.push_bind(&job.id)
                .push_bind(&job.adapter)
                .push_bind(&job.op)
                .push_bind(&job.input)
                .push("'queued'")
                .push("0")
                .push_bind(i64::from(job.max_attempts))
                .push_bind(job.run_at_ms)
                .push_bind(&job.idempotency_key)
                .push_bind(&job.request_hash)
                .push_bind(now_ms)
                .push_bind(now_ms)
                .push_bind(i32::from(job.priority > 0));
        });
        insert.push(" ON CONFLICT DO NOTHING RETURNING id");
        let ids: Vec<String> = insert.build_query_scalar().fetch_all(&mut *conn).await?;
        inserted.extend(ids);
    }
    crate::store::jobs_impl::enqueue_answers!(jobs, &inserted, conn)
}

/// Records the ends of `finished` on `conn` (a transaction, or a connection for one statement).
async fn finish_on(
    conn: &mut SqliteConnection,
    finished: &[Finish],
    now_ms: i64,
) -> Result<Vec<bool>, StoreError> {
    // Successes, nearly every end, as one statement a chunk: a statement each cost one hop
    // to the connection's thread each (~200 µs through sqlx), and the one writing
    // connection is what enqueues and claims wait for.
    let mut recorded = std::collections::HashSet::new();
    let successes: Vec<(&Finish, &str)> = finished
        .iter()
        .filter_map(|f| match &f.outcome {
            JobOutcome::Succeeded(output) => Some((f, output.as_str())),
            _ => None,
        })
        .collect();
    for chunk in successes.chunks(FINISH_ROWS) {
        let mut update =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("WITH ended (id, attempt, output) AS (");
        update.push_values(chunk, |mut row, (f, output)| {
            row.push_bind(f.id.as_str())
                .push_bind(i64::from(f.attempt))
                .push_bind(*output);
        });
        update.push(") UPDATE jobs SET state = 'succeeded', output = ended.output, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ");
        update.push_bind(now_ms);
        update.push(" FROM ended WHERE jobs.id = ended.id AND jobs.attempt = ended.attempt AND jobs.state = 'running' RETURNING jobs.id, jobs.attempt");
        let rows = update.build().fetch_all(&mut *conn).await?;
        recorded.extend(
            rows.iter()
                .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1))),
        );
    }
    crate::store::jobs_impl::finish_the_rest!(finished, recorded, now_ms, conn)
}

/// A failed attempt queued again: its error appended to the last 20 (in this dialect's JSON).
const JOB_RETRY: &str = "UPDATE jobs SET state = 'queued', run_at_ms = ?1, last_error = ?2, errors = json_insert(CASE WHEN json_array_length(COALESCE(errors, '[]')) >= 20 THEN json_remove(errors, '$[0]') ELSE COALESCE(errors, '[]') END, '$[#]', json_object('attempt', attempt, 'at_ms', ?3, 'error', json(?2))), lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?3 WHERE id = ?4 AND attempt = ?5 AND state = 'running'";
/// A failed attempt that was the last: the job dead, its error appended to the last 20.
const JOB_DEAD: &str = "UPDATE jobs SET state = 'dead', last_error = ?1, errors = json_insert(CASE WHEN json_array_length(COALESCE(errors, '[]')) >= 20 THEN json_remove(errors, '$[0]') ELSE COALESCE(errors, '[]') END, '$[#]', json_object('attempt', attempt, 'at_ms', ?2, 'error', json(?1))), lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?2 WHERE id = ?3 AND attempt = ?4 AND state = 'running'";

crate::store::jobs_impl::finish_query!(
    sqlx::Sqlite,
    sqlx::sqlite::SqliteArguments<'static>,
    JOB_RETRY,
    JOB_DEAD
);

/// What a claim answers: a job without its attempt history (a worker has no use for it).
pub(super) const CLAIM_COLUMNS: &str = "id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, output, last_error, created_at_ms, updated_at_ms";

const JOB_COLUMNS: &str = "id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, output, last_error, created_at_ms, updated_at_ms, errors";
