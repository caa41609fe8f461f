-- Answers to POST requests that carried an Idempotency-Key, kept so that a retry
-- of the same request gets the same answer instead of a second effect.
CREATE TABLE idempotency_keys (
    scope         text PRIMARY KEY,
    request_hash  text        NOT NULL,
    status_code   integer,
    body          bytea,
    content_type  text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
