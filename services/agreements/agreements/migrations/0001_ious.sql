-- IOUs, their two parties, and the saga state: status, documents, void requests,
-- verifications and signatures received from the bus, and the audit trail.
CREATE TABLE ious (
    id                    uuid PRIMARY KEY,
    status                text        NOT NULL,
    initiator_role        text        NOT NULL CHECK (initiator_role IN ('lender', 'borrower')),
    initiator_account_id  uuid        NOT NULL,
    terms                 jsonb       NOT NULL,
    notice_version        text        NOT NULL,
    notice_accepted_at    timestamptz NOT NULL,
    reminders_enabled     boolean     NOT NULL DEFAULT false,
    preview_version       integer     NOT NULL DEFAULT 1,
    preview_sha256        text,
    signed_sha256         text,
    voided_sha256         text,
    version               integer     NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    effective_at          timestamptz,
    ended_at              timestamptz,
    end_reason            text
);
CREATE INDEX ious_open_deadline ON ious (expires_at)
    WHERE status IN ('draft', 'awaiting_initiator', 'awaiting_counterparty');

CREATE TABLE parties (
    iou_id            uuid        NOT NULL REFERENCES ious (id),
    role              text        NOT NULL CHECK (role IN ('lender', 'borrower')),
    name              text        NOT NULL,
    id_number         text        NOT NULL,
    phone             text        NOT NULL,
    signature_id      uuid,
    signature_sha256  text,
    signature_doc     text,
    signature_at      timestamptz,
    verification_id   uuid,
    verified_at       timestamptz,
    signed_at         timestamptz,
    PRIMARY KEY (iou_id, role)
);
CREATE INDEX parties_phone ON parties (phone);

CREATE TABLE void_requests (
    id                    uuid PRIMARY KEY,
    iou_id                uuid        NOT NULL REFERENCES ious (id),
    requested_by          text        NOT NULL,
    reason                text        NOT NULL,
    status                text        NOT NULL CHECK (status IN
                          ('awaiting_verification', 'open', 'cancelled', 'refused', 'confirmed')),
    confirm_requested_at  timestamptz,
    answer_reason         text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    opened_at             timestamptz,
    closed_at             timestamptz
);
CREATE UNIQUE INDEX void_requests_one_open ON void_requests (iou_id)
    WHERE status IN ('awaiting_verification', 'open');

-- Passed face checks announced by identity; each unlocks one action once.
CREATE TABLE verifications_received (
    verification_id   uuid PRIMARY KEY,
    iou_id            uuid        NOT NULL,
    role              text        NOT NULL,
    action            text        NOT NULL,
    account_phone     text        NOT NULL,
    verified_name     text        NOT NULL,
    id_number_sha256  text        NOT NULL,
    passed_at         timestamptz NOT NULL,
    used_at           timestamptz,
    rejected_reason   text
);
CREATE INDEX verifications_received_unused ON verifications_received (iou_id, role, action)
    WHERE used_at IS NULL AND rejected_reason IS NULL;

CREATE TABLE documents (
    iou_id       uuid        NOT NULL REFERENCES ious (id),
    kind         text        NOT NULL,
    version      integer     NOT NULL,
    sha256       text        NOT NULL,
    size         integer     NOT NULL,
    rendered_at  timestamptz NOT NULL,
    PRIMARY KEY (iou_id, kind, version)
);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    iou_id      uuid        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_iou ON audit_log (iou_id, id);
