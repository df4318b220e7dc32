//! The fair claim on SQLite: see [`crate::store::JobStore::job_claim_fair`].

use super::SqliteStore;
use super::jobs::{CLAIM_COLUMNS, job_from_row};
use crate::store::{JobRecord, StoreError};

impl SqliteStore {
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
        // One compound statement over one index, (adapter, state, priority, run_at_ms): per
        // adapter, a range scan of its normal due jobs stopping at its share of a round (its
        // free concurrency, and no more than the claim divided among the adapters that have
        // due work: one index probe each); the urgent and lapsed jobs of all of them from
        // prefixes of the same index. SQLite has no LATERAL, so the per-adapter scans are
        // spelled out, as many as there are adapters with room. A round that comes up short is
        // followed by another at once (the claimer claims again while it has free workers).
        //
        // Every scan names the index: left to choose without statistics (or with those taken
        // while every job was queued), the planner read every due job of a backlog at each
        // claim to find the urgent ones, and scanned the table for lapsed leases. `active` and
        // `round` are materialized once rather than probed again in every adapter's LIMIT.
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("WITH shares (adapter, cap) AS (");
        q.push_values(shares.iter(), |mut row, (adapter, cap)| {
            row.push_bind(adapter.as_str()).push_bind(i64::from(*cap));
        });
        q.push("), active (n) AS MATERIALIZED (SELECT max(1, count(*)) FROM shares s WHERE EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_adapter_queue WHERE jobs.adapter = s.adapter AND state = 'queued' AND priority = 0 AND run_at_ms <= ");
        q.push_bind(now_ms);
        q.push(")), round (n) AS MATERIALIZED (SELECT (");
        q.push_bind(limit);
        q.push(" + n - 1) / n FROM active), cand (id, adapter, priority, run_at_ms, lapsed) AS (SELECT * FROM (SELECT id, adapter, priority, run_at_ms, 0 FROM jobs INDEXED BY jobs_adapter_queue WHERE adapter IN (SELECT adapter FROM shares) AND state = 'queued' AND priority = 1 AND run_at_ms <= ");
        q.push_bind(now_ms);
        q.push(" ORDER BY run_at_ms LIMIT ");
        q.push_bind(limit);
        q.push(")");
        for (adapter, cap) in shares {
            q.push(" UNION ALL SELECT * FROM (SELECT id, adapter, priority, run_at_ms, 0 FROM jobs INDEXED BY jobs_adapter_queue WHERE adapter = ");
            q.push_bind(adapter.as_str());
            q.push(" AND state = 'queued' AND priority = 0 AND run_at_ms <= ");
            q.push_bind(now_ms);
            q.push(" ORDER BY run_at_ms LIMIT min(");
            q.push_bind(i64::from(*cap).min(limit));
            q.push(", (SELECT n FROM round)))");
        }
        q.push(" UNION ALL SELECT * FROM (SELECT id, adapter, priority, run_at_ms, 1 FROM jobs INDEXED BY jobs_adapter_queue WHERE adapter IN (SELECT adapter FROM shares) AND state = 'running' AND lease_until_ms < ");
        q.push_bind(now_ms);
        // A constant term: SQLite tests it once, before the scan.
        q.push(" AND ");
        q.push_bind(reclaim);
        q.push(" LIMIT ");
        q.push_bind(limit);
        q.push(
            ")), ranked AS (SELECT c.id, c.priority, c.run_at_ms, c.lapsed, s.cap, \
             row_number() OVER (PARTITION BY c.adapter ORDER BY c.lapsed DESC, c.priority DESC, c.run_at_ms) AS rn \
             FROM cand c JOIN shares s ON s.adapter = c.adapter) \
             UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ",
        );
        q.push_bind(owner);
        q.push(", lease_until_ms = ");
        q.push_bind(lease_until_ms);
        q.push(", updated_at_ms = ");
        q.push_bind(now_ms);
        q.push(" WHERE id IN (SELECT id FROM ranked WHERE rn <= cap ORDER BY rn, lapsed DESC, priority DESC, run_at_ms LIMIT ");
        q.push_bind(limit);
        q.push(format!(") RETURNING {CLAIM_COLUMNS}"));
        let rows = q.build().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(job_from_row).collect())
    }
}

/// The statement of the claim when one adapter alone can take jobs (a deployment of one
/// integration, or the others at their limits): its share needs no ranking against anyone's, so
/// three ordered scans of its own indexes and no window. Its binds: owner, lease end, now, limit,
/// adapter, whether to take lapsed leases.
pub(super) fn claim_one_sql() -> &'static str {
    // Built once: a claim runs many times a second under load.
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1, lease_until_ms = ?2, updated_at_ms = ?3 \
         WHERE id IN (SELECT id FROM ( \
             SELECT * FROM (SELECT id, priority, run_at_ms, 0 AS lapsed FROM jobs INDEXED BY jobs_adapter_queue WHERE adapter = ?5 AND state = 'queued' AND priority = 1 AND run_at_ms <= ?3 ORDER BY run_at_ms LIMIT ?4) \
             UNION ALL SELECT * FROM (SELECT id, priority, run_at_ms, 0 FROM jobs INDEXED BY jobs_adapter_queue WHERE adapter = ?5 AND state = 'queued' AND priority = 0 AND run_at_ms <= ?3 ORDER BY run_at_ms LIMIT ?4) \
             UNION ALL SELECT * FROM (SELECT id, priority, run_at_ms, 1 FROM jobs INDEXED BY jobs_adapter_queue WHERE adapter = ?5 AND state = 'running' AND lease_until_ms < ?3 AND ?6 LIMIT ?4)) \
           ORDER BY lapsed DESC, priority DESC, run_at_ms LIMIT ?4) \
         RETURNING {CLAIM_COLUMNS}"
        )
    });
    &SQL
}
