-- Partial success: what became of a call's items, one row per call (its last run's report):
-- how many the platform took and refused, and the refused ones (at most 1,000) as JSON. A row
-- goes when its job is pruned (or, for a call that is no job, after the job retention).
CREATE TABLE call_items (
    call_id TEXT PRIMARY KEY,
    adapter TEXT NOT NULL,
    accepted INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    rejected_items TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX call_items_at ON call_items (at_ms);
