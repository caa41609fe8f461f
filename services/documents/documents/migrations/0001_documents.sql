-- Signature PNGs as announced by signing (SignatureCaptured), kept so that a
-- signed or voided copy can place them without calling signing. Only what the
-- document needs is kept: no phone, account, IP address or user agent.
CREATE TABLE signature_images (
    signature_id     text PRIMARY KEY,
    agreement_id     text        NOT NULL,
    party_role       text        NOT NULL CHECK (party_role IN ('lender', 'borrower')),
    document_sha256  text        NOT NULL,
    png              bytea       NOT NULL,
    png_sha256       text        NOT NULL,
    signed_at        timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX signature_images_agreement ON signature_images (agreement_id);

-- Rendered documents; one row per (agreement, kind, version), never rewritten.
-- request_sha256 fingerprints the render command, so that a later command for a
-- stored version with different inputs can be noticed (the stored copy wins).
CREATE TABLE documents (
    agreement_id    text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('preview', 'signed', 'voided')),
    version         integer     NOT NULL,
    sha256          text        NOT NULL,
    size            integer     NOT NULL,
    pdf             bytea       NOT NULL,
    rendered_at     timestamptz NOT NULL,
    superseded_at   timestamptz,
    readers         text[]      NOT NULL,
    request_sha256  text        NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agreement_id, kind, version)
);

-- The latest SupersedePreviews command per agreement, by the time it was issued:
-- a preview whose render command was issued before it is stored as superseded,
-- whatever order the two commands arrive in.
CREATE TABLE preview_supersessions (
    agreement_id  text        PRIMARY KEY,
    issued_at     timestamptz NOT NULL,
    reason        text        NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);

-- Render commands that can never succeed (a character the font lacks, terms the
-- renderer rejects, a signature that belongs elsewhere). Nothing is emitted for
-- them; an operator reads this table. A later successful render removes the row.
CREATE TABLE render_failures (
    agreement_id  text        NOT NULL,
    kind          text        NOT NULL,
    version       integer     NOT NULL,
    message_id    text        NOT NULL,
    reason        text        NOT NULL,
    detail        text        NOT NULL DEFAULT '',
    failed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agreement_id, kind, version)
);
