-- A storage key may expire (`storage.set-expiring`): reads no longer see it past this time,
-- and retention deletes it. NULL: it never expires.
ALTER TABLE kv ADD COLUMN expires_at_ms BIGINT;
CREATE INDEX kv_expiry ON kv (expires_at_ms) WHERE expires_at_ms IS NOT NULL;
