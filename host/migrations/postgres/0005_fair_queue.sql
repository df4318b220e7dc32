-- Fair claiming: each adapter's due jobs are read from an index of their own, so that a claim
-- takes a share of every adapter's work in one statement however long one adapter's queue is.
-- (adapter, state, run_at_ms) also serves everything (adapter, state) served.
CREATE INDEX jobs_adapter_due ON jobs (adapter, state, run_at_ms);
DROP INDEX jobs_adapter_state;
-- Urgent jobs (schedule ticks, an adapter's follow-ups) run ahead of bulk work: a small index of
-- only those that wait.
ALTER TABLE jobs ADD COLUMN priority SMALLINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_urgent ON jobs (run_at_ms) WHERE state = 'queued' AND priority > 0;
