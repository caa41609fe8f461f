-- Messages waiting to be published; written in the same transaction as the change
-- that caused them. The relay publishes them with Nats-Msg-Id = id.
CREATE TABLE outbox (
    id          uuid PRIMARY KEY,
    subject     text        NOT NULL,
    envelope    jsonb       NOT NULL,
    headers     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE sent_at IS NULL;

CREATE FUNCTION outbox_wake() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('jietiao_outbox', '');
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER outbox_wake AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_wake();

-- Messages already handled, per consumer; inserted in the same transaction as the
-- handler's effect so that a redelivery is acknowledged and skipped.
CREATE TABLE inbox (
    consumer    text        NOT NULL,
    message_id  text        NOT NULL,
    subject     text        NOT NULL,
    handled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
