-- Retention prunes finished jobs by age: find them without scanning the table.
CREATE INDEX jobs_finished ON jobs (state, updated_at_ms);
