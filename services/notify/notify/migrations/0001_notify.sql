-- SMS as recorded for delivery. One row per source message (the bus message, or
-- the reminder, that asked for it), so an event can never produce two SMS.
-- status: queued -> sent | failed; dropped (flow closed) and rejected (invalid
-- template variables or phone) are never sent.
CREATE TABLE sms_messages (
    id                  uuid PRIMARY KEY,
    source_message_id   text        NOT NULL UNIQUE,
    kind                text        NOT NULL,
    phone               text        NOT NULL,
    text                text        NOT NULL,
    agreement_id        text,
    status              text        NOT NULL
        CHECK (status IN ('queued', 'sent', 'failed', 'dropped', 'rejected')),
    error               text,
    provider            text,
    provider_message_id text,
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    sent_at             timestamptz
);
CREATE INDEX sms_messages_queued ON sms_messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX sms_messages_phone ON sms_messages (phone, created_at DESC);
CREATE INDEX sms_messages_agreement ON sms_messages (agreement_id, created_at DESC);

-- Every hand-over to a provider, successful or not.
CREATE TABLE sms_attempts (
    id                  bigserial PRIMARY KEY,
    sms_id              uuid        NOT NULL REFERENCES sms_messages (id),
    provider            text        NOT NULL,
    outcome             text        NOT NULL CHECK (outcome IN ('sent', 'failed')),
    provider_message_id text,
    error               text,
    attempted_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_attempts_sms ON sms_attempts (sms_id);

-- Agreements whose flow ended: nothing but flow-ending SMS goes out for them.
CREATE TABLE flow_closures (
    agreement_id text        PRIMARY KEY,
    ending       text        NOT NULL,
    closed_at    timestamptz NOT NULL DEFAULT now()
);

-- Links that let a counterparty open an agreement. Resolved by the token's
-- SHA-256; the token itself is kept only so that owners can fetch it again.
CREATE TABLE share_links (
    id                uuid PRIMARY KEY,
    source_message_id text        NOT NULL UNIQUE,
    token             text        NOT NULL,
    token_sha256      text        NOT NULL UNIQUE,
    agreement_id      text        NOT NULL,
    party_role        text        NOT NULL CHECK (party_role IN ('lender', 'borrower')),
    holder_phone      text        NOT NULL,
    owner_phones      text[]      NOT NULL,
    purpose           text        NOT NULL CHECK (purpose IN ('sign', 'answer_void')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz
);
CREATE INDEX share_links_agreement ON share_links (agreement_id);

-- Repayment reminders: one per instalment, due at a local time on its due date.
CREATE TABLE reminders (
    id             uuid PRIMARY KEY,
    agreement_id   text        NOT NULL,
    seq            integer     NOT NULL,
    due_date       date        NOT NULL,
    due_at         timestamptz NOT NULL,
    total_fen      bigint      NOT NULL,
    borrower_phone text        NOT NULL,
    status         text        NOT NULL
        CHECK (status IN ('scheduled', 'sent', 'cancelled')),
    sms_id         uuid REFERENCES sms_messages (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    sent_at        timestamptz,
    cancelled_at   timestamptz,
    cancel_reason  text,
    UNIQUE (agreement_id, seq)
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'scheduled';
