-- Durable steps (the `steps` interface): how each named step of a call ended, under the call's
-- id (a job's id for a job), so that the call run again skips what the platform already
-- answered. A step's row goes when its job is pruned (or, for a call that is no job, after the
-- job retention).
CREATE TABLE steps (
    call_id TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (call_id, name)
);
CREATE INDEX steps_created ON steps (created_at_ms);
