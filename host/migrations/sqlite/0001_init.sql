-- Adapter key-value storage: one namespace per adapter instance.
CREATE TABLE kv (
    ns    TEXT NOT NULL,
    key   TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (ns, key)
) WITHOUT ROWID;

-- Token grants, persisted so that a restart or another node reuses them.
CREATE TABLE tokens (
    adapter          TEXT    NOT NULL,
    scope            TEXT    NOT NULL,
    token            TEXT,
    expires_at_ms    INTEGER NOT NULL DEFAULT 0,
    fetched_at_ms    INTEGER NOT NULL DEFAULT 0,
    last_attempt_ms  INTEGER NOT NULL DEFAULT 0,
    credentials      TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    PRIMARY KEY (adapter, scope)
) WITHOUT ROWID;
