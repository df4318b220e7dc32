-- Claims read each adapter's urgent and normal due jobs as two exact prefixes of one index,
-- (adapter, state, priority, run_at_ms), each in due order. The partial index of urgent jobs
-- it replaces left the planner a choice: answered from (adapter, state, run_at_ms) instead, the
-- urgent scan read every due job of a backlog to find none urgent, at every claim.
CREATE INDEX jobs_adapter_queue ON jobs (adapter, state, priority, run_at_ms);
DROP INDEX jobs_adapter_due;
DROP INDEX jobs_urgent;
