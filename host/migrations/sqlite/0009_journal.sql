-- The exchange journal: one row per attempt of a call whose exchanges are kept (by the
-- adapter's `[journal] keep`), its exchanges as JSON with credentials removed and bodies cut.
-- A row goes when its job is pruned (or, for a call that is no job, after the job retention),
-- and an adapter keeps at most `[journal] max_calls` rows.
CREATE TABLE journal (
    call_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    adapter TEXT NOT NULL,
    job_id TEXT,
    at_ms INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (call_id, attempt)
);
CREATE INDEX journal_adapter_at ON journal (adapter, at_ms);
CREATE INDEX journal_at ON journal (at_ms);
