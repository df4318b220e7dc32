-- The errors of a job's earlier attempts (a JSON array of {attempt, at_ms, error}, the last 20),
-- so that an operator sees how a job failed before it died, not only its last error.
ALTER TABLE jobs ADD COLUMN errors TEXT;
