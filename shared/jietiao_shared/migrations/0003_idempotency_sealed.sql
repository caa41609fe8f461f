-- Stored answers are sealed (AES-256-GCM) with a key derived from the request's own
-- credentials and Idempotency-Key, which the database never holds: an answer that
-- carries a session token is not readable from a copy of the table. They go in a
-- column of their own, so a process of the previous release never mistakes a sealed
-- answer for a plain one (it finds no body and fails, and the client retries);
-- plain answers written before this change are replayed until they are purged.
ALTER TABLE idempotency_keys ADD COLUMN sealed_body bytea;
