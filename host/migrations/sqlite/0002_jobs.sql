-- Durable jobs: at-least-once, leased attempts, fenced state changes on (state, attempt).
CREATE TABLE jobs (
    id              TEXT    PRIMARY KEY,
    adapter         TEXT    NOT NULL,
    op              TEXT    NOT NULL,
    input           TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempt         INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    run_at_ms       INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  INTEGER,
    idempotency_key TEXT,
    request_hash    TEXT,
    output          TEXT,
    last_error      TEXT,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);
-- The idempotency guarantee is this index, not a look-up before the insert.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (adapter, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_ready ON jobs (state, run_at_ms);
CREATE INDEX jobs_adapter_state ON jobs (adapter, state);

-- One row per schedule: the last tick claimed, so that each tick runs once and never overlaps.
CREATE TABLE schedules (
    adapter         TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    last_tick_ms    INTEGER NOT NULL,
    running_until_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (adapter, name)
) WITHOUT ROWID;
