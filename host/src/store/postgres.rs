//! The shared store: PostgreSQL, so that several `weft` processes behave as one.

use super::{
    Enqueued, JobFilter, JobOutcome, JobRecord, JobState, NewJob, Store, StoreError, StoreLock,
    StoredGrant, like_prefix,
};
use async_trait::async_trait;
use sqlx::Row;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Postgres};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The channel an enqueue notifies, so that idle workers on every node start at once.
const JOBS_CHANNEL: &str = "weft_jobs";

/// PostgreSQL-backed [`Store`].
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Schema the tables live in; part of every advisory-lock key.
    schema: String,
    wakeup: Arc<tokio::sync::Notify>,
}

/// A session advisory lock held on its own connection until released.
pub struct PgLock {
    conn: Option<PoolConnection<Postgres>>,
    key: String,
}

#[async_trait]
impl StoreLock for PgLock {
    async fn release(mut self: Box<Self>) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
                .bind(&self.key)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // A connection that could not unlock must not go back to the pool holding it.
                drop(conn.detach());
            }
        }
    }
}

impl Drop for PgLock {
    fn drop(&mut self) {
        // Not released (the holder was cancelled): closing the session releases the lock.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://…`, optionally `?schema=NAME`, default `public`),
    /// creates the schema if needed, runs the migrations and listens for enqueued jobs.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (url, schema) = split_schema(url);
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || schema.is_empty()
        {
            return Err(StoreError::Config(format!(
                "schema name {schema:?}: letters, digits and '_' only"
            )));
        }
        let base =
            PgConnectOptions::from_str(&url)?.log_statements(tracing::log::LevelFilter::Trace);
        {
            let mut conn = base.connect().await?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
                .execute(&mut conn)
                .await?;
        }
        let options = base.options([("search_path", schema.as_str())]);
        // No ping before each use: it is a round trip as long as most statements here. A
        // connection the server dropped (a restart) fails the one statement that finds it, the
        // pool replaces it, and that statement's caller retries as after any store error (a job
        // by its lease, an HTTP caller after its 503).
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        // Migrations of several nodes starting at once are serialised by sqlx's own lock.
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let wakeup = Arc::new(tokio::sync::Notify::new());
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.listen(&format!("{JOBS_CHANNEL}_{schema}")).await?;
        let notify = wakeup.clone();
        tokio::spawn(async move {
            // PgListener reconnects by itself; a notification only wakes workers early.
            while let Ok(_n) = listener.recv().await {
                notify.notify_waiters();
            }
        });
        Ok(Self {
            pool,
            schema,
            wakeup,
        })
    }
}

fn split_schema(url: &str) -> (String, String) {
    let Some((head, query)) = url.split_once('?') else {
        return (url.to_string(), "public".into());
    };
    let mut schema = "public".to_string();
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("schema=") {
            Some(s) => {
                schema = s.to_string();
                false
            }
            None => true,
        })
        .collect();
    let url = if rest.is_empty() {
        head.to_string()
    } else {
        format!("{head}?{}", rest.join("&"))
    };
    (url, schema)
}

#[async_trait]
impl Store for PgStore {
    async fn kv_get(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT value FROM kv WHERE ns = $1 AND key = $2")
            .bind(ns)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get::<Vec<u8>, _>(0)))
    }

    async fn kv_set(&self, ns: &str, key: &str, value: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value")
            .bind(ns)
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn kv_usage(&self, ns: &str, key: &str) -> Result<super::KvUsage, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(OCTET_LENGTH(key) + OCTET_LENGTH(value)), 0)::BIGINT, MAX(CASE WHEN key = $1 THEN (OCTET_LENGTH(key) + OCTET_LENGTH(value))::BIGINT END) FROM kv WHERE ns = $2",
        )
        .bind(key)
        .bind(ns)
        .fetch_one(&self.pool)
        .await?;
        super::KvUsage::from_row(&row)
    }

    async fn kv_delete(&self, ns: &str, key: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM kv WHERE ns = $1 AND key = $2")
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
            "SELECT key FROM kv WHERE ns = $1 AND key LIKE $2 ESCAPE '\\' AND key > $3 ORDER BY key LIMIT $4",
        )
        .bind(ns)
        .bind(like_prefix(prefix))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
                "INSERT INTO kv (ns, key, value) VALUES ($1, $2, $3) ON CONFLICT (ns, key) DO NOTHING",
            )
            .bind(ns)
            .bind(key)
            .bind(new)
            .execute(&self.pool)
            .await?
            .rows_affected(),
            (Some(old), Some(new)) => {
                sqlx::query("UPDATE kv SET value = $1 WHERE ns = $2 AND key = $3 AND value = $4")
                    .bind(new)
                    .bind(ns)
                    .bind(key)
                    .bind(old)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
            }
            (Some(old), None) => {
                sqlx::query("DELETE FROM kv WHERE ns = $1 AND key = $2 AND value = $3")
                    .bind(ns)
                    .bind(key)
                    .bind(old)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
            }
            (None, None) => {
                let exists: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM kv WHERE ns = $1 AND key = $2")
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
            "SELECT token, expires_at_ms, fetched_at_ms, last_attempt_ms, credentials, version FROM tokens WHERE adapter = $1 AND scope = $2",
        )
        .bind(adapter)
        .bind(scope)
        .fetch_optional(&self.pool)
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
                "INSERT INTO tokens (adapter, scope, token, expires_at_ms, fetched_at_ms, last_attempt_ms, credentials, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (adapter, scope) DO NOTHING",
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
                "UPDATE tokens SET token = $1, expires_at_ms = $2, fetched_at_ms = $3, last_attempt_ms = $4, credentials = $5, version = $6 WHERE adapter = $7 AND scope = $8 AND version = $9",
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
            "UPDATE tokens SET token = NULL, version = version + 1 WHERE adapter = $1 AND scope = $2 AND token = $3",
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
        // One statement for the lot (arrays unnested into rows): one round trip however many
        // jobs, where a statement each would cost one each.
        let column = |f: fn(&NewJob) -> String| jobs.iter().map(f).collect::<Vec<String>>();
        let optional =
            |f: fn(&NewJob) -> Option<String>| jobs.iter().map(f).collect::<Vec<Option<String>>>();
        let mut tx = self.pool.begin().await?;
        let inserted: Vec<String> = sqlx::query_scalar(
            "INSERT INTO jobs (id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, request_hash, created_at_ms, updated_at_ms) \
             SELECT id, adapter, op, input, 'queued', 0, max_attempts, run_at_ms, idempotency_key, request_hash, $9, $9 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::text[]) \
                  AS t(id, adapter, op, input, max_attempts, run_at_ms, idempotency_key, request_hash) \
             ON CONFLICT DO NOTHING RETURNING id",
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
        .fetch_all(&mut *tx)
        .await?;
        let inserted: std::collections::HashSet<String> = inserted.into_iter().collect();
        let mut out = Vec::with_capacity(jobs.len());
        let mut taken = std::collections::HashSet::new();
        for job in jobs {
            // An id inserted once: a second job of the batch with the same id was not.
            if inserted.contains(&job.id) && taken.insert(job.id.clone()) {
                out.push(Enqueued::New(job.id.clone()));
                continue;
            }
            let Some(key) = &job.idempotency_key else {
                out.push(Enqueued::Existing(job.id.clone()));
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
        if !inserted.is_empty() {
            // Delivered at commit, once for the batch: the other nodes' workers wake.
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(format!("{JOBS_CHANNEL}_{}", self.schema))
                .execute(&mut *tx)
                .await?;
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
        // SKIP LOCKED: concurrent claimers on any node pass over a row another is taking.
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, lease_until_ms = $2, updated_at_ms = $3 \
             WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_at_ms <= $4) OR (state = 'running' AND lease_until_ms < $5) \
                         ORDER BY run_at_ms LIMIT 1 FOR UPDATE SKIP LOCKED) \
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
            "UPDATE jobs SET lease_until_ms = $1 WHERE id = $2 AND attempt = $3 AND state = 'running'",
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
        // SKIP LOCKED: claimers on other nodes pass over the rows this one is taking.
        let rows = sqlx::query(&format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, lease_until_ms = $2, updated_at_ms = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at_ms <= $3) OR (state = 'running' AND lease_until_ms < $3) \
                          ORDER BY run_at_ms LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING {CLAIM_COLUMNS}"
        ))
        .bind(owner)
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut jobs: Vec<JobRecord> = rows.iter().map(job_from_row).collect();
        jobs.sort_by_key(|j| j.run_at_ms);
        Ok(jobs)
    }

    async fn job_get(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
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
        .fetch_all(&self.pool)
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
            "UPDATE jobs SET state = 'queued', max_attempts = attempt + $1, run_at_ms = $2, updated_at_ms = $3 WHERE id = $4 AND state = 'dead'",
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
            .fetch_optional(&self.pool)
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

    async fn job_counts(&self) -> Result<Vec<(String, JobState, i64)>, StoreError> {
        let rows = sqlx::query("SELECT adapter, state, COUNT(*) FROM jobs GROUP BY adapter, state")
            .fetch_all(&self.pool)
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
        sqlx::query("INSERT INTO schedules (adapter, name, last_tick_ms, running_until_ms) VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING")
            .bind(adapter)
            .bind(name)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query(
            "UPDATE schedules SET last_tick_ms = $1, running_until_ms = $2 \
             WHERE adapter = $3 AND name = $4 AND last_tick_ms < $5 AND running_until_ms <= $6 \
             RETURNING (SELECT last_tick_ms FROM schedules WHERE adapter = $7 AND name = $8)",
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
        sqlx::query("UPDATE schedules SET running_until_ms = 0 WHERE adapter = $1 AND name = $2 AND last_tick_ms = $3")
            .bind(adapter)
            .bind(name)
            .bind(tick_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token_lock(
        &self,
        adapter: &str,
        scope: &str,
    ) -> Result<Option<Box<dyn StoreLock>>, StoreError> {
        let key = format!(
            "weft-token\u{1f}{}\u{1f}{adapter}\u{1f}{scope}",
            self.schema
        );
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
            .bind(&key)
            .execute(&mut *conn)
            .await?;
        Ok(Some(Box::new(PgLock {
            conn: Some(conn),
            key,
        })))
    }

    fn job_wakeup(&self) -> Option<Arc<tokio::sync::Notify>> {
        Some(self.wakeup.clone())
    }

    async fn rate_acquire(
        &self,
        key: &str,
        interval_ms: i64,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO rates (key, next_ms) VALUES ($1, $2 + $3) ON CONFLICT (key) DO UPDATE SET next_ms = GREATEST(rates.next_ms, $2) + $3 RETURNING next_ms - $3",
        )
        .bind(key)
        .bind(now_ms)
        .bind(interval_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get::<i64, _>(0))
    }

    async fn schedule_last(&self, adapter: &str, name: &str) -> Result<Option<i64>, StoreError> {
        let row =
            sqlx::query("SELECT last_tick_ms FROM schedules WHERE adapter = $1 AND name = $2")
                .bind(adapter)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.get::<i64, _>(0)).filter(|t| *t > 0))
    }
}

/// The statement recording one attempt's end; the job id and attempt are bound after it.
fn finish_query(
    outcome: &JobOutcome,
    now_ms: i64,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match outcome {
        JobOutcome::Succeeded(output) => sqlx::query(
            "UPDATE jobs SET state = 'succeeded', output = $1, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $2 WHERE id = $3 AND attempt = $4 AND state = 'running'"
        )
        .bind(output.clone())
        .bind(now_ms),
        JobOutcome::Retry { run_at_ms, error } => sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at_ms = $1, last_error = $2, errors = (CASE WHEN jsonb_array_length(COALESCE(errors, '[]')::jsonb) >= 20 THEN COALESCE(errors, '[]')::jsonb - 0 ELSE COALESCE(errors, '[]')::jsonb END || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at_ms', $3::bigint, 'error', $2::jsonb)))::text, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $3 WHERE id = $4 AND attempt = $5 AND state = 'running'"
        )
        .bind(*run_at_ms)
        .bind(error.clone())
        .bind(now_ms),
        JobOutcome::Dead(error) => sqlx::query(
            "UPDATE jobs SET state = 'dead', last_error = $1, errors = (CASE WHEN jsonb_array_length(COALESCE(errors, '[]')::jsonb) >= 20 THEN COALESCE(errors, '[]')::jsonb - 0 ELSE COALESCE(errors, '[]')::jsonb END || jsonb_build_array(jsonb_build_object('attempt', attempt, 'at_ms', $2::bigint, 'error', $1::jsonb)))::text, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $2 WHERE id = $3 AND attempt = $4 AND state = 'running'"
        )
        .bind(error.clone())
        .bind(now_ms),
        JobOutcome::Release { run_at_ms } => sqlx::query(
            "UPDATE jobs SET state = 'queued', attempt = attempt - 1, run_at_ms = $1, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $2 WHERE id = $3 AND attempt = $4 AND state = 'running'"
        )
        .bind(*run_at_ms)
        .bind(now_ms),
    }
}

/// What a claim answers: a job without its attempt history (a worker has no use for it).
const CLAIM_COLUMNS: &str = "id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, output, last_error, created_at_ms, updated_at_ms";

const JOB_COLUMNS: &str = "id, adapter, op, input, state, attempt, max_attempts, run_at_ms, idempotency_key, output, last_error, created_at_ms, updated_at_ms, errors";

fn job_from_row(r: &PgRow) -> JobRecord {
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
