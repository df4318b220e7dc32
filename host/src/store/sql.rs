//! SQL both backends run as written (sqlx takes `$N` parameters for SQLite too); each backend
//! keeps only the statements where the dialects differ.

/// A key that has not expired, as a condition on `kv` with the time bound at `$N`.
macro_rules! live {
    ($n:literal) => {
        concat!("(expires_at_ms IS NULL OR expires_at_ms > $", $n, ")")
    };
}

/// One value; binds ns, key, now.
pub const KV_GET: &str = concat!(
    "SELECT value FROM kv WHERE ns = $1 AND key = $2 AND ",
    live!(3)
);
/// Write a value, replacing any; binds ns, key, value, expiry (NULL: never).
pub const KV_SET: &str = "INSERT INTO kv (ns, key, value, expires_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at_ms = excluded.expires_at_ms";
/// Delete a key, answering for a live one only; binds ns, key, now.
pub const KV_DELETE: &str = concat!("DELETE FROM kv WHERE ns = $1 AND key = $2 AND ", live!(3));
/// Live keys by prefix (a `LIKE` pattern from `like_prefix`), after a key, in order; binds ns,
/// pattern, after, limit, now.
pub const KV_LIST: &str = concat!(
    "SELECT key FROM kv WHERE ns = $1 AND key LIKE $2 ESCAPE '\\' AND key > $3 AND ",
    live!(5),
    " ORDER BY key LIMIT $4"
);
/// Write a value only where the key is absent or expired (compare-and-swap from nothing);
/// binds ns, key, value, expiry, now.
pub const KV_CREATE: &str = "INSERT INTO kv (ns, key, value, expires_at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, expires_at_ms = excluded.expires_at_ms WHERE kv.expires_at_ms IS NOT NULL AND kv.expires_at_ms <= $5";
/// Replace a value only where it is still the expected, live one; binds new, expiry, ns, key,
/// expected, now.
pub const KV_SWAP: &str = concat!(
    "UPDATE kv SET value = $1, expires_at_ms = $2 WHERE ns = $3 AND key = $4 AND value = $5 AND ",
    live!(6)
);
/// Delete a key only where its value is still the expected, live one; binds ns, key, expected,
/// now.
pub const KV_DELETE_IF: &str = concat!(
    "DELETE FROM kv WHERE ns = $1 AND key = $2 AND value = $3 AND ",
    live!(4)
);
/// Whether a live key is set (counts 0 or 1); binds ns, key, now.
pub const KV_EXISTS: &str = concat!(
    "SELECT COUNT(*) FROM kv WHERE ns = $1 AND key = $2 AND ",
    live!(3)
);
/// Delete a batch of expired keys; binds now, limit.
pub const KV_EXPIRE: &str = "DELETE FROM kv WHERE (ns, key) IN (SELECT ns, key FROM kv WHERE expires_at_ms IS NOT NULL AND expires_at_ms <= $1 LIMIT $2)";
/// The job holding an adapter's idempotency key, and what the key was used for.
pub const JOB_BY_KEY: &str =
    "SELECT id, request_hash FROM jobs WHERE adapter = $1 AND idempotency_key = $2";
/// Is a job of this adapter and operation queued or running?
pub const JOB_ACTIVE: &str =
    "SELECT 1 FROM jobs WHERE adapter = $1 AND state IN ('queued', 'running') AND op = $2 LIMIT 1";
/// An attempt's success, fenced on its attempt number; binds output, now, id, attempt.
pub const JOB_SUCCEED: &str = "UPDATE jobs SET state = 'succeeded', output = $1, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $2 WHERE id = $3 AND attempt = $4 AND state = 'running'";
/// An attempt handed back unspent (its adapter is not loaded), fenced; binds run-at, now, id,
/// attempt.
pub const JOB_RELEASE: &str = "UPDATE jobs SET state = 'queued', attempt = attempt - 1, run_at_ms = $1, lease_owner = NULL, lease_until_ms = NULL, updated_at_ms = $2 WHERE id = $3 AND attempt = $4 AND state = 'running'";
/// Cancel a queued or dead job.
pub const JOB_CANCEL: &str = "UPDATE jobs SET state = 'cancelled', updated_at_ms = $1 WHERE id = $2 AND state IN ('queued', 'dead')";
/// Delete a batch of finished jobs changed before a time.
pub const JOB_PRUNE: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('succeeded', 'dead', 'cancelled') AND updated_at_ms < $1 LIMIT $2)";
/// Prune succeeded jobs of operations starting with a prefix (schedule ticks).
pub const JOB_PRUNE_SUCCEEDED: &str = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'succeeded' AND updated_at_ms < $1 AND op LIKE $2 ESCAPE '\\' LIMIT $3)";
/// One page of a listing, newest first; `{columns}` is the backend's list columns.
pub const JOB_PAGE: &str = "FROM jobs WHERE ($1 IS NULL OR state = $2) AND ($3 IS NULL OR adapter = $4) \
     AND ($5 IS NULL OR created_at_ms < $6 OR (created_at_ms = $7 AND id > $8)) \
     AND ($10 IS NULL OR op = $11) AND ($12 IS NULL OR idempotency_key = $13) \
     AND ($14 IS NULL OR created_at_ms >= $15) AND ($16 IS NULL OR created_at_ms < $17) \
     ORDER BY created_at_ms DESC, id LIMIT $9";
/// The columns of a listing: a job's, without input and output, which may be megabytes.
pub const LIST_COLUMNS: &str = "id, adapter, op, '' AS input, state, attempt, max_attempts, run_at_ms, idempotency_key, NULL AS output, last_error, created_at_ms, updated_at_ms";

/// Job counts by adapter and state.
pub const JOB_COUNTS: &str = "SELECT adapter, state, COUNT(*) FROM jobs GROUP BY adapter, state";
/// Extend an attempt's lease, fenced on the attempt.
pub const JOB_HEARTBEAT: &str =
    "UPDATE jobs SET lease_until_ms = $1 WHERE id = $2 AND attempt = $3 AND state = 'running'";
/// Queue a dead job again with more attempts.
pub const JOB_RETRY: &str = "UPDATE jobs SET state = 'queued', max_attempts = attempt + $1, run_at_ms = $2, updated_at_ms = $3 WHERE id = $4 AND state = 'dead'";
/// Record a tick as handled, only where it is later than the last.
pub const SCHEDULE_CLAIM: &str = "UPDATE schedules SET last_tick_ms = $1, running_until_ms = $2 \
             WHERE adapter = $3 AND name = $4 AND last_tick_ms < $5 AND running_until_ms <= $6 \
             RETURNING (SELECT last_tick_ms FROM schedules WHERE adapter = $7 AND name = $8)";
/// A schedule's row, where it has none yet.
pub const SCHEDULE_CREATE: &str = "INSERT INTO schedules (adapter, name, last_tick_ms, running_until_ms) VALUES ($1, $2, 0, 0) ON CONFLICT DO NOTHING";
/// Mark a tick's run finished.
pub const SCHEDULE_DONE: &str = "UPDATE schedules SET running_until_ms = 0 WHERE adapter = $1 AND name = $2 AND last_tick_ms = $3";
/// The last handled tick.
pub const SCHEDULE_LAST: &str =
    "SELECT last_tick_ms FROM schedules WHERE adapter = $1 AND name = $2";
/// A scope's first grant, only where it has none yet.
pub const TOKEN_CREATE: &str = "INSERT INTO tokens (adapter, scope, token, expires_at_ms, fetched_at_ms, last_attempt_ms, credentials, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (adapter, scope) DO NOTHING";
/// Forget a token only where it is still the one rejected.
pub const TOKEN_DROP: &str = "UPDATE tokens SET token = NULL, version = version + 1 WHERE adapter = $1 AND scope = $2 AND token = $3";
/// A scope's stored grant.
pub const TOKEN_GET: &str = "SELECT token, expires_at_ms, fetched_at_ms, last_attempt_ms, credentials, version FROM tokens WHERE adapter = $1 AND scope = $2";
/// Replace a grant only where its version is still the one read.
pub const TOKEN_SWAP: &str = "UPDATE tokens SET token = $1, expires_at_ms = $2, fetched_at_ms = $3, last_attempt_ms = $4, credentials = $5, version = $6 WHERE adapter = $7 AND scope = $8 AND version = $9";

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` prefix match.
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One step of a call.
pub const STEP_GET: &str =
    "SELECT name, state, outcome, updated_at_ms FROM steps WHERE call_id = $1 AND name = $2";
/// Records a step, in place of what was (its first record's time stays).
pub const STEP_PUT: &str = "INSERT INTO steps (call_id, name, state, outcome, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (call_id, name) DO UPDATE SET state = excluded.state, outcome = excluded.outcome, updated_at_ms = excluded.updated_at_ms";
/// Forgets a step.
pub const STEP_DELETE: &str = "DELETE FROM steps WHERE call_id = $1 AND name = $2";
/// Forgets the steps of a call that were sent and never answered.
pub const STEP_FORGET_SENT: &str = "DELETE FROM steps WHERE call_id = $1 AND state = 'sent'";
/// The steps of a call, in the order they began.
pub const STEP_LIST: &str = "SELECT name, state, outcome, updated_at_ms FROM steps WHERE call_id = $1 ORDER BY created_at_ms, name LIMIT $2";
/// Steps older than a time whose call is no job the store holds (pruned, or never a job).
pub const STEP_PRUNE: &str = "DELETE FROM steps WHERE (call_id, name) IN (SELECT s.call_id, s.name FROM steps s \
     WHERE s.created_at_ms < $1 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = s.call_id) LIMIT $2)";

/// Keeps what became of a call's items, in place of what was.
pub const ITEMS_PUT: &str = "INSERT INTO call_items (call_id, adapter, accepted, rejected, rejected_items, at_ms) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (call_id) DO UPDATE SET accepted = excluded.accepted, rejected = excluded.rejected, rejected_items = excluded.rejected_items, at_ms = excluded.at_ms";
/// What became of a call's items.
pub const ITEMS_GET: &str =
    "SELECT adapter, accepted, rejected, rejected_items, at_ms FROM call_items WHERE call_id = $1";
/// Item rows older than a time whose call is no job the store holds.
pub const ITEMS_PRUNE: &str = "DELETE FROM call_items WHERE call_id IN (SELECT s.call_id FROM call_items s \
     WHERE s.at_ms < $1 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = s.call_id) LIMIT $2)";

/// Keeps one attempt of a call in the journal, in place of what was.
pub const JOURNAL_PUT: &str = "INSERT INTO journal (call_id, attempt, adapter, job_id, at_ms, entry) VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (call_id, attempt) DO UPDATE SET entry = excluded.entry, at_ms = excluded.at_ms";
/// Journal rows one [`journal_put_rows`] statement keeps at most (six parameters each).
pub const JOURNAL_PUT_ROWS: usize = 100;

/// [`JOURNAL_PUT`] for `n` rows in one statement (atomic by itself: no transaction around it).
pub fn journal_put_rows(n: usize) -> String {
    let values: Vec<String> = (0..n)
        .map(|r| {
            let p = r * 6;
            format!(
                "(${}, ${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6
            )
        })
        .collect();
    format!(
        "INSERT INTO journal (call_id, attempt, adapter, job_id, at_ms, entry) VALUES {} \
         ON CONFLICT (call_id, attempt) DO UPDATE SET entry = excluded.entry, at_ms = excluded.at_ms",
        values.join(", ")
    )
}

/// The journal of a call, attempt by attempt.
pub const JOURNAL_GET: &str =
    "SELECT attempt, entry FROM journal WHERE call_id = $1 ORDER BY attempt LIMIT $2";
/// Journal rows older than a time whose call is no job the store holds.
pub const JOURNAL_PRUNE: &str = "DELETE FROM journal WHERE (call_id, attempt) IN (SELECT s.call_id, s.attempt FROM journal s \
     WHERE s.at_ms < $1 AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = s.call_id) LIMIT $2)";
/// An adapter's journal rows past its newest `$2`.
pub const JOURNAL_TRIM: &str = "DELETE FROM journal WHERE (call_id, attempt) IN (SELECT call_id, attempt FROM journal \
     WHERE adapter = $1 ORDER BY at_ms DESC, call_id DESC LIMIT $2 OFFSET $3)";
