//! The embedded store: one SQLite file under the data directory, nothing to install.

use super::{
    Enqueued, JobFilter, JobOutcome, JobRecord, JobState, NewJob, Store, StoreError, StoredGrant,
    like_prefix,
};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::time::Duration;

/// SQLite-backed [`Store`].
///
/// Writes go through one connection and reads through a pool of others. SQLite lets one writer
/// in at a time whatever the number of connections; with several writing connections the ones
/// that lose the race wait in SQLite's busy handler, which sleeps in steps of milliseconds. One
/// writing connection makes them queue in the pool instead, woken the moment it is free, and WAL
/// lets the readers go on beside it.
#[derive(Clone)]
pub struct SqliteStore {
    /// The one connection that writes.
    pool: SqlitePool,
    /// Read-only connections.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `weft.db` in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        use std::os::unix::fs::PermissionsExt;
        if !data_dir.exists() {
            std::fs::create_dir_all(data_dir)?;
            // The store holds token grants and idempotency keys: this user's only.
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("weft.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        // An embedded connection cannot go stale behind our back: no ping before each use (a
        // round trip to the connection's thread, as long as the statement itself).
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        for name in ["weft.db", "weft.db-wal", "weft.db-shm"] {
            let file = data_dir.join(name);
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
        Ok(Self { pool, reader })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT value FROM kv WHERE ns = ? AND key = ?")
            .bind(ns)
            .bind(key)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.get::<Vec<u8>, _>(0)))
    }

    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value")
            .bind(ns)
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn kv_usage(&self, ns: &str, key: &str) -> Result<super::KvUsage, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(key AS BLOB)) + LENGTH(value)), 0), MAX(CASE WHEN key = ? THEN LENGTH(CAST(key AS BLOB)) + LENGTH(value) END) FROM kv WHERE ns = ?",
        )
        .bind(key)
        .bind(ns)
        .fetch_one(&self.reader)
        .await?;
        super::KvUsage::from_row(&row)
    }

    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM kv WHERE ns = ? AND key = ?")
            .bind(ns)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn kv_list(
        &self,
        ns: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT key FROM kv WHERE ns = ? AND key LIKE ? ESCAPE '\\' AND key > ? ORDER BY key LIMIT ?",
        )
        .bind(ns)
        .bind(like_prefix(prefix))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(|r| r.get::<String, _>(0)).collect())
    }

    async fn kv_cas(
        &self,
        ns: &str,
        key: &str,
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<bool, StoreError> {
        // Each case is one statement, so the check and the write are atomic.
        let affected = match (expected, new) {
            (None, Some(new)) => sqlx::query(
                "INSERT INTO kv (ns, key, value) VALUES (?, ?, ?) ON CONFLICT (ns, key) DO NOTHING",
            )
            .bind(ns)
            .bind(key)
            .bind(new)
            .execute(&self.pool)
            .await?
            .rows_affected(),
            (Some(old), Some(new)) => {
                sqlx::query("UPDATE kv SET value = ? WHERE ns = ? AND key = ? AND value = ?")
                    .bind(new)
                    .bind(ns)
                    .bind(key)
                    .bind(old)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
            }
            (Some(old), None) => {
                sqlx::query("DELETE FROM kv WHERE ns = ? AND key = ? AND value = ?")
                    .bind(ns)
                    .bind(key)
                    .bind(old)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
            }
            (None, None) => {
                let exists: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM kv WHERE ns = ? AND key = ?")
                        .bind(ns)
                        .bind(key)
                        .fetch_one(&self.pool)
                        .await?;
                u64::from(exists == 0)
            }
        };
        Ok(affected == 1)
    }

    async fn token_load(
        &self,
        adapter: &str,
        scope: &str,
    ) -> Result<Option<StoredGrant>, StoreError> {
        let row = sqlx::query(
            "SELECT token, expires_at_ms, fetched_at_ms, last_attempt_ms, credentials, version FROM tokens WHERE adapter = ? AND scope = ?",
        )
        .bind(adapter)
        .bind(scope)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| StoredGrant {
            token: r.get(0),
            expires_at_ms: r.get(1),
            fetched_at_ms: r.get(2),
            last_attempt_ms: r.get(3),
            credentials: r.get(4),
            version: r.get(5),
        }))
    }

    async fn token_store(
        &self,
        adapter: &str,
        scope: &str,
        grant: &StoredGrant,
        expected_version: Option<i64>,
    ) -> Result<bool, StoreError> {
        let done = match expected_version {
            None => sqlx::query(
                "INSERT INTO tokens (adapter, scope, token, expires_at_ms, fetched_at_ms, last_attempt_ms, credentials, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (adapter, scope) DO NOTHING",
            )
            .bind(adapter)
            .bind(scope)
            .bind(&grant.token)
            .bind(grant.expires_at_ms)
            .bind(grant.fetched_at_ms)
            .bind(grant.last_attempt_ms)
            .bind(&grant.credentials)
            .bind(grant.version)
            .execute(&self.pool)
            .await?,
            Some(expected) => sqlx::query(
                "UPDATE tokens SET token = ?, expires_at_ms = ?, fetched_at_ms = ?, last_attempt_ms = ?, credentials = ?, version = ? WHERE adapter = ? AND scope = ? AND version = ?",
            )
            .bind(&grant.token)
            .bind(grant.expires_at_ms)
            .bind(grant.fetched_at_ms)
            .bind(grant.last_attempt_ms)
            .bind(&grant.credentials)
            .bind(grant.version)
            .bind(adapter)
            .bind(scope)
            .bind(expected)
            .execute(&self.pool)
            .await?,
        };
        Ok(done.rows_affected() == 1)
    }

    async fn token_invalidate(
        &self,
        adapter: &str,
        scope: &str,
        token: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tokens SET token = NULL, version = version + 1 WHERE adapter = ? AND scope = ? AND token = ?",
        )
        .bind(adapter)
        .bind(scope)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn job_enqueue_many(
        &self,
        jobs: &[NewJob],
        now_ms: i64,
    ) -> Result<Vec<Enqueued>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let inserted = sqlx::query(super::sql::JOB_INSERT)
                .bind(&job.id)
                .bind(&job.adapter)
                .bind(&job.op)
                .bind(&job.input)
                .bind(i64::from(job.max_attempts))
                .bind(job.run_at_ms)
                .bind(&job.idempotency_key)
                .bind(&job.request_hash)
                .bind(now_ms)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let Some(key) = job.idempotency_key.as_ref().filter(|_| inserted == 0) else {
                out.push(if inserted == 1 {
                    Enqueued::New(job.id.clone())
                } else {
                    Enqueued::Existing(job.id.clone())
                });
                continue;
            };
            let row = sqlx::query(super::sql::JOB_BY_KEY)
                .bind(&job.adapter)
                .bind(key)
                .fetch_one(&mut *tx)
                .await?;
            let id: String = row.get(0);
            let hash: Option<String> = row.get(1);
            out.push(if hash == job.request_hash {
                Enqueued::Existing(id)
            } else {
                Enqueued::KeyConflict(id)
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn job_claim(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
    ) -> Result<Option<JobRecord>, StoreError> {
        // One statement: SQLite runs it under its write lock, so two workers never claim the
        // same job.
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?, lease_until_ms = ?, updated_at_ms = ? \
             WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_at_ms <= ?) OR (state = 'running' AND lease_until_ms < ?) \
                         ORDER BY run_at_ms LIMIT 1) \
             RETURNING id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, output, last_error, created_at_ms, updated_at_ms",
        )
        .bind(owner)
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(now_ms)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| job_from_row(&r)))
    }

    async fn job_heartbeat(
        &self,
        id: &str,
        attempt: u32,
        lease_until_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until_ms = ? WHERE id = ? AND attempt = ? AND state = 'running'",
        )
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

    async fn job_finish_many(
        &self,
        finished: &[super::Finish],
        now_ms: i64,
    ) -> Result<Vec<bool>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut out = Vec::with_capacity(finished.len());
        for f in finished {
            let done = finish_query(&f.outcome, now_ms)
                .bind(f.id.clone())
                .bind(i64::from(f.attempt))
                .execute(&mut *tx)
                .await?;
            out.push(done.rows_affected() == 1);
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn job_claim_many(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_until_ms = ?2, updated_at_ms = ?3 \
             WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at_ms <= ?3) OR (state = 'running' AND lease_until_ms < ?3) \
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

    async fn job_get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.reader)
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
            super::sql::LIST_COLUMNS,
            super::sql::JOB_PAGE
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
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(job_from_row).collect())
    }

    async fn job_retry(
        &self,
        id: &str,
        extra_attempts: u32,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', max_attempts = attempt + ?, run_at_ms = ?, updated_at_ms = ? WHERE id = ? AND state = 'dead'",
        )
        .bind(i64::from(extra_attempts))
        .bind(now_ms)
        .bind(now_ms)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn job_active(&self, adapter: &str, op: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(super::sql::JOB_ACTIVE)
            .bind(adapter)
            .bind(op)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.is_some())
    }

    async fn job_cancel(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(super::sql::JOB_CANCEL)
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn job_prune(&self, before_ms: i64, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(super::sql::JOB_PRUNE)
            .bind(before_ms)
            .bind(i64::from(limit))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn job_release_owner(&self, owner: &str, now_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempt = attempt - 1, run_at_ms = ?, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ? \
             WHERE lease_owner = ? AND state = 'running'",
        )
        .bind(now_ms)
        .bind(now_ms)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn job_counts(&self) -> Result<Vec<(String, JobState, i64)>, StoreError> {
        let rows = sqlx::query("SELECT adapter, state, COUNT(*) FROM jobs GROUP BY adapter, state")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                JobState::parse(r.get::<&str, _>(1))
                    .map(|s| (r.get::<String, _>(0), s, r.get::<i64, _>(2)))
            })
            .collect())
    }

    async fn schedule_claim(
        &self,
        adapter: &str,
        name: &str,
        tick_ms: i64,
        now_ms: i64,
        running_until_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        sqlx::query("INSERT INTO schedules (adapter, name, last_tick_ms, running_until_ms) VALUES (?, ?, 0, 0) ON CONFLICT DO NOTHING")
            .bind(adapter)
            .bind(name)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(
            "UPDATE schedules SET last_tick_ms = ?, running_until_ms = ? \
             WHERE adapter = ? AND name = ? AND last_tick_ms < ? AND running_until_ms <= ? \
             RETURNING (SELECT last_tick_ms FROM schedules WHERE adapter = ? AND name = ?)",
        )
        .bind(tick_ms)
        .bind(running_until_ms)
        .bind(adapter)
        .bind(name)
        .bind(tick_ms)
        .bind(now_ms)
        .bind(adapter)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get::<i64, _>(0)))
    }

    async fn schedule_done(
        &self,
        adapter: &str,
        name: &str,
        tick_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE schedules SET running_until_ms = 0 WHERE adapter = ? AND name = ? AND last_tick_ms = ?")
            .bind(adapter)
            .bind(name)
            .bind(tick_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn rate_acquire(
        &self,
        key: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO rates (key, next_ms) VALUES (?, ? + ?) ON CONFLICT (key) DO UPDATE SET next_ms = max(rates.next_ms, ?) + ? RETURNING next_ms - ?",
        )
        .bind(key)
        .bind(now_ms)
        .bind(interval_ms)
        .bind(now_ms)
        .bind(interval_ms)
        .bind(interval_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0))
    }

    async fn schedule_last(&self, adapter: &str, name: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT last_tick_ms FROM schedules WHERE adapter = ? AND name = ?")
            .bind(adapter)
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.get::<i64, _>(0)).filter(|t| *t > 0))
    }
}

/// The statement recording one attempt's end; the job id and attempt are bound after it.
fn finish_query(
    outcome: &JobOutcome,
    now_ms: i64,
) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'static>> {
    match outcome {
        JobOutcome::Succeeded(output) => sqlx::query(
            "UPDATE jobs SET state = 'succeeded', output = ?, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ? WHERE id = ? AND attempt = ? AND state = 'running'"
        )
        .bind(output.clone())
        .bind(now_ms),
        JobOutcome::Retry { run_at_ms, error } => sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at_ms = ?1, last_error = ?2, errors = json_insert(CASE WHEN json_array_length(COALESCE(errors, '[]')) >= 20 THEN json_remove(errors, '$[0]') ELSE COALESCE(errors, '[]') END, '$[#]', json_object('attempt', attempt, 'at_ms', ?3, 'error', json(?2))), lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?3 WHERE id = ?4 AND attempt = ?5 AND state = 'running'"
        )
        .bind(*run_at_ms)
        .bind(error.clone())
        .bind(now_ms),
        JobOutcome::Dead(error) => sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = ?1, errors = json_insert(CASE WHEN json_array_length(COALESCE(errors, '[]')) >= 20 THEN json_remove(errors, '$[0]') ELSE COALESCE(errors, '[]') END, '$[#]', json_object('attempt', attempt, 'at_ms', ?2, 'error', json(?1))), lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ?2 WHERE id = ?3 AND attempt = ?4 AND state = 'running'"
        )
        .bind(error.clone())
        .bind(now_ms),
        JobOutcome::Release { run_at_ms } => sqlx::query(
            "UPDATE jobs SET state = 'queued', attempt = attempt - 1, run_at_ms = ?, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = ? WHERE id = ? AND attempt = ? AND state = 'running'"
        )
        .bind(*run_at_ms)
        .bind(now_ms),
    }
}

/// What a claim answers: a job without its attempt history (a worker has no use for it).
const CLAIM_COLUMNS: &str = "id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, output, last_error, created_at_ms, updated_at_ms";

const JOB_COLUMNS: &str = "id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, output, last_error, created_at_ms, updated_at_ms, errors";

fn job_from_row(r: &SqliteRow) -> JobRecord {
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
