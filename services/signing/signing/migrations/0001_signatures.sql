-- Handwritten signatures: the raw strokes as drawn, the PNG rendered here from them,
-- and what they are bound to (agreement, party, document version, signer, client).
CREATE TABLE signatures (
    id               uuid PRIMARY KEY,
    agreement_id     uuid        NOT NULL,
    party_role       text        NOT NULL CHECK (party_role IN ('lender', 'borrower')),
    account_id       text        NOT NULL,
    document_sha256  text        NOT NULL,
    strokes          jsonb       NOT NULL,
    strokes_sha256   text        NOT NULL,
    png              bytea       NOT NULL,
    png_sha256       text        NOT NULL,
    user_agent       text        NOT NULL,
    client_ip        text        NOT NULL,
    signed_at        timestamptz NOT NULL,
    UNIQUE (agreement_id, party_role, document_sha256, strokes_sha256)
);
CREATE INDEX signatures_agreement ON signatures (agreement_id);
