-- Personal data at rest: parties' phone and ID numbers are stored encrypted
-- (AES-256-GCM, "<kid>:<base64url>", see jietiao_shared.crypto) with a keyed hash
-- (HMAC-SHA256) of the phone for lookups. The plaintext columns stay, nullable,
-- only until the service has sealed rows written before this migration (it does
-- so at start, see store.seal_plaintext); new rows never fill them.
ALTER TABLE parties ADD COLUMN phone_enc text;
ALTER TABLE parties ADD COLUMN id_number_enc text;
ALTER TABLE parties ADD COLUMN phone_hash text;
ALTER TABLE parties ALTER COLUMN phone DROP NOT NULL;
ALTER TABLE parties ALTER COLUMN id_number DROP NOT NULL;
ALTER TABLE parties ADD CONSTRAINT parties_phone_sealed
    CHECK ((phone_enc IS NOT NULL AND phone_hash IS NOT NULL) OR phone IS NOT NULL);
ALTER TABLE parties ADD CONSTRAINT parties_id_number_sealed
    CHECK (id_number_enc IS NOT NULL OR id_number IS NOT NULL);
CREATE INDEX parties_phone_hash ON parties (phone_hash);
DROP INDEX parties_phone;

-- The parties' details are no longer copied into the terms: they are read from
-- the parties table (decrypted) whenever an IOU is loaded.
UPDATE ious SET terms = terms - 'lender' - 'borrower';

-- Verifications received keep the keyed hash of the account's phone, not the phone,
-- and a keyed hash of the ID-number fingerprint instead of the bare SHA-256 (which
-- could be reversed by trying every possible ID number).
ALTER TABLE verifications_received ADD COLUMN account_phone_hash text;
ALTER TABLE verifications_received ADD COLUMN id_number_hash text;
ALTER TABLE verifications_received ALTER COLUMN account_phone DROP NOT NULL;
ALTER TABLE verifications_received ALTER COLUMN id_number_sha256 DROP NOT NULL;

-- The identity each account proved by face check, learned from VerificationPassed:
-- a create whose initiator details differ from it is refused.
CREATE TABLE verified_identities (
    account_phone_hash  text PRIMARY KEY,
    verified_name       text        NOT NULL,
    id_number_hash      text        NOT NULL,
    verification_id     uuid        NOT NULL,
    verified_at         timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
