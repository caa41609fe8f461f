-- Accounts are identified by a verified mainland mobile number (E.164).
CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    phone       text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One-time login codes, stored as keyed hashes only.
CREATE TABLE login_codes (
    id          uuid PRIMARY KEY,
    phone       text        NOT NULL,
    code_hash   text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    used_at     timestamptz
);
CREATE INDEX login_codes_phone ON login_codes (phone, created_at DESC);

-- Keys: the Ed25519 key that signs session tokens, and the pepper for code hashes.
CREATE TABLE keys (
    kid         text PRIMARY KEY,
    purpose     text        NOT NULL CHECK (purpose IN ('token_signing', 'code_pepper')),
    secret      bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

-- Face verification sessions, each bound to one purpose and usable once.
CREATE TABLE verifications (
    id                  uuid PRIMARY KEY,
    agreement_id        uuid        NOT NULL,
    party_role          text        NOT NULL,
    action              text        NOT NULL,
    account_id          uuid        NOT NULL REFERENCES accounts (id),
    expected_name       text        NOT NULL,
    expected_id_sha256  text        NOT NULL,
    provider            text        NOT NULL,
    provider_ref        text,
    status              text        NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'passed', 'failed', 'expired')),
    failure_reason      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    completed_at        timestamptz
);
CREATE INDEX verifications_account ON verifications (account_id, created_at DESC);

-- What the local face provider "saw": filled in by its page, read back as a result.
CREATE TABLE local_face_results (
    verification_id  uuid PRIMARY KEY REFERENCES verifications (id),
    outcome          text        NOT NULL CHECK (outcome IN ('pass', 'fail')),
    seen_name        text        NOT NULL,
    seen_id_sha256   text        NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
