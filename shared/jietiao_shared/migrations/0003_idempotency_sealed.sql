-- Stored answers are sealed (AES-256-GCM) with a key derived from the request's own
-- credentials and Idempotency-Key, which the database never holds: an answer that
-- carries a session token is not readable from a copy of the table. Rows written
-- before this change stay readable as they are until they are purged.
ALTER TABLE idempotency_keys ADD COLUMN sealed boolean NOT NULL DEFAULT false;
