-- Adapter key-value storage: one namespace per adapter instance.
CREATE TABLE kv (
    ns    TEXT  NOT NULL,
    key   TEXT  NOT NULL,
    value BYTEA NOT NULL,
    PRIMARY KEY (ns, key)
);

-- Token grants shared by every node; writes are compare-and-swap on version.
CREATE TABLE tokens (
    adapter          TEXT   NOT NULL,
    scope            TEXT   NOT NULL,
    token            TEXT,
    expires_at_ms    BIGINT NOT NULL DEFAULT 0,
    fetched_at_ms    BIGINT NOT NULL DEFAULT 0,
    last_attempt_ms  BIGINT NOT NULL DEFAULT 0,
    credentials      TEXT   NOT NULL,
    version          BIGINT NOT NULL,
    PRIMARY KEY (adapter, scope)
);

-- Durable jobs: claimed with FOR UPDATE SKIP LOCKED, fenced on (state, attempt).
CREATE TABLE jobs (
    id              TEXT   PRIMARY KEY,
    adapter         TEXT   NOT NULL,
    op              TEXT   NOT NULL,
    input           TEXT   NOT NULL,
    state           TEXT   NOT NULL,
    attempt         BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL,
    run_at_ms       BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    idempotency_key TEXT,
    request_hash    TEXT,
    output          TEXT,
    last_error      TEXT,
    created_at_ms   BIGINT NOT NULL,
    updated_at_ms   BIGINT NOT NULL
);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (adapter, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_ready ON jobs (state, run_at_ms);
CREATE INDEX jobs_adapter_state ON jobs (adapter, state);

-- One row per schedule: the last tick claimed, so each tick runs once across the cluster.
CREATE TABLE schedules (
    adapter          TEXT   NOT NULL,
    name             TEXT   NOT NULL,
    last_tick_ms     BIGINT NOT NULL,
    running_until_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (adapter, name)
);
