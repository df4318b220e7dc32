//! Claims on PostgreSQL: the fair claim ([`crate::store::JobStore::job_claim_fair`]) and the
//! earliest due jobs of all adapters together.

use super::PgStore;
use super::jobs::{CLAIM_COLUMNS_OF_JOBS, job_from_row};
use crate::store::{JobRecord, StoreError};

impl PgStore {
    /// The claim of the earliest due jobs of every adapter together (see
    /// [`crate::store::JobStore::job_claim_many`]).
    pub(super) async fn claim_many(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
    ) -> Result<Vec<JobRecord>, StoreError> {
        // SKIP LOCKED: claimers on other nodes pass over the rows this one is taking. Two
        // ordered index scans, each stopping at `limit` rows, rather than one OR over both: the
        // planner answered the OR with a bitmap of every due row, read and sorted at each
        // claim, so a claim cost grew with the number of due jobs waiting. (FOR UPDATE is not
        // allowed in a UNION, hence one CTE each.) The update finds the rows by their physical
        // address, which the row locks keep fixed until the statement commits, joined to the
        // rows picked so that each is one TID lookup. By id it was planned as a hash join or a
        // scan over the whole table whenever the planner's statistics lagged behind the queue;
        // as `ctid = ANY(ARRAY(…))` the generic plan made while the table was small was a scan
        // of the whole table testing every row against the array, kept as the table grew.
        // A lapsed lease locked but not taken is free again at the commit.
        let rows = sqlx::query(&format!(
            "WITH queued AS (SELECT ctid AS row, run_at_ms FROM jobs WHERE state = 'queued' AND run_at_ms <= $3 ORDER BY run_at_ms LIMIT $4 FOR UPDATE SKIP LOCKED), \
                  lapsed AS (SELECT ctid AS row, run_at_ms FROM jobs WHERE state = 'running' AND lease_until_ms < $3 LIMIT $4 FOR UPDATE SKIP LOCKED), \
                  picked AS (SELECT row FROM (SELECT row, run_at_ms FROM queued UNION ALL SELECT row, run_at_ms FROM lapsed) AS due ORDER BY run_at_ms LIMIT $4) \
             UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, lease_until_ms = $2, updated_at_ms = $3 \
             FROM picked WHERE jobs.ctid = picked.row \
             RETURNING {CLAIM_COLUMNS_OF_JOBS}"
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

    /// A fair claim of up to `limit` due jobs among the adapters of `shares` (two or more,
    /// each with room), as `JobStore::job_claim_fair` says.
    pub(crate) async fn claim_several(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u32,
        shares: &[&(String, u32)],
        reclaim: bool,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let limit = i64::from(limit);
        let adapters: Vec<&str> = shares.iter().map(|(a, _)| a.as_str()).collect();
        let caps: Vec<i64> = shares
            .iter()
            .map(|(_, n)| i64::from(*n).min(limit))
            .collect();
        // Every scan is an exact prefix of one index, (adapter, state, priority, run_at_ms),
        // read in due order: each adapter's normal due jobs by a LATERAL scan stopping at its
        // share of a round (its free concurrency, and no more than the claim divided among the
        // adapters with due work); the urgent jobs and lapsed leases of all of them apart.
        // SKIP LOCKED, so that other nodes pass over them; rows locked but not taken are free
        // again at the commit. The update joins the rows picked by their physical address (see
        // job_claim_many). With a partial index of urgent jobs beside (adapter, state,
        // run_at_ms), the generic plan answered the urgent scan from the latter, reading every
        // due job of a backlog at each claim to find none urgent.
        // Whether an adapter has due work is one LIMIT 1 probe of its index each: written as
        // EXISTS, the planner turned it into a hash semi-join over every due job of the
        // backlog whenever the table's statistics were stale (11 ms a claim at 20,000 due).
        let rows = sqlx::query(&format!(
            "WITH shares AS (SELECT * FROM UNNEST($5::text[], $6::bigint[]) AS s(adapter, cap)), \
                  active AS (SELECT GREATEST(1, COUNT(*)) AS n FROM shares s CROSS JOIN LATERAL (SELECT 1 FROM jobs WHERE jobs.adapter = s.adapter AND state = 'queued' AND priority = 0 AND run_at_ms <= $3 LIMIT 1) due), \
                  urgent AS (SELECT ctid AS row, id, adapter, priority, run_at_ms, 0 AS lapsed FROM jobs WHERE adapter = ANY($5) AND state = 'queued' AND priority = 1 AND run_at_ms <= $3 ORDER BY run_at_ms LIMIT $4 FOR UPDATE SKIP LOCKED), \
                  fair AS (SELECT j.* FROM shares s CROSS JOIN active a CROSS JOIN LATERAL (SELECT ctid AS row, id, adapter, priority, run_at_ms, 0 AS lapsed FROM jobs WHERE adapter = s.adapter AND state = 'queued' AND priority = 0 AND run_at_ms <= $3 ORDER BY run_at_ms LIMIT LEAST(s.cap, ($4 + a.n - 1) / a.n) FOR UPDATE SKIP LOCKED) j), \
                  lapsed AS (SELECT ctid AS row, id, adapter, priority, run_at_ms, 1 AS lapsed FROM jobs WHERE adapter = ANY($5) AND state = 'running' AND lease_until_ms < $3 AND $7 LIMIT $4 FOR UPDATE SKIP LOCKED), \
                  cand AS (SELECT * FROM urgent UNION ALL SELECT * FROM fair UNION ALL SELECT * FROM lapsed), \
                  ranked AS (SELECT c.row, c.priority, c.run_at_ms, c.lapsed, s.cap, row_number() OVER (PARTITION BY c.adapter ORDER BY c.lapsed DESC, c.priority DESC, c.run_at_ms) AS rn FROM cand c JOIN shares s ON s.adapter = c.adapter), \
                  picked AS (SELECT row FROM ranked WHERE rn <= cap ORDER BY rn, lapsed DESC, priority DESC, run_at_ms LIMIT $4) \
             UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, lease_until_ms = $2, updated_at_ms = $3 \
             FROM picked WHERE jobs.ctid = picked.row \
             RETURNING {CLAIM_COLUMNS_OF_JOBS}"
        ))
        .bind(owner)
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(limit)
        .bind(&adapters)
        .bind(&caps)
        .bind(reclaim)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(job_from_row).collect())
    }
}

/// The statement of the claim when one adapter alone can take jobs (a deployment of one
/// integration, or the others at their limits): no ranking against anyone's share, so three ordered
/// scans of its own rows. Written apart also for the planner's sake: for the general claim with one
/// adapter PostgreSQL kept planning afresh at every execution (0.6 ms, more than the claim itself),
/// while this one keeps its generic plan (0.05 ms a claim). Its binds: owner, lease end, now,
/// limit, adapter, whether to take lapsed leases.
pub(super) fn claim_one_sql() -> &'static str {
    // Built once: a claim runs many times a second under load.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH urgent AS (SELECT ctid AS row, priority, run_at_ms, 0 AS lapsed FROM jobs WHERE adapter = $5 AND state = 'queued' AND priority = 1 AND run_at_ms <= $3 ORDER BY run_at_ms LIMIT $4 FOR UPDATE SKIP LOCKED), \
              queued AS (SELECT ctid AS row, priority, run_at_ms, 0 AS lapsed FROM jobs WHERE adapter = $5 AND state = 'queued' AND priority = 0 AND run_at_ms <= $3 ORDER BY run_at_ms LIMIT $4 FOR UPDATE SKIP LOCKED), \
              lapsed AS (SELECT ctid AS row, priority, run_at_ms, 1 AS lapsed FROM jobs WHERE adapter = $5 AND state = 'running' AND lease_until_ms < $3 AND $6 LIMIT $4 FOR UPDATE SKIP LOCKED), \
              picked AS (SELECT row FROM (SELECT * FROM urgent UNION ALL SELECT * FROM queued UNION ALL SELECT * FROM lapsed) AS c ORDER BY lapsed DESC, priority DESC, run_at_ms LIMIT $4) \
         UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = $1, lease_until_ms = $2, updated_at_ms = $3 \
         FROM picked WHERE jobs.ctid = picked.row \
         RETURNING {CLAIM_COLUMNS_OF_JOBS}"
        )
    });
    &SQL
}
