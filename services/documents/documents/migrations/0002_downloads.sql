-- Every download of a document: who (the caller's account id), when, and which
-- version (kind, version, SHA-256). Read by the parties through
-- GET /documents/{agreement_id}/downloads. Rows are only ever inserted.
CREATE TABLE document_downloads (
    id             bigserial   PRIMARY KEY,
    agreement_id   text        NOT NULL,
    kind           text        NOT NULL,
    version        integer     NOT NULL,
    sha256         text        NOT NULL,
    account_id     text        NOT NULL,
    downloaded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX document_downloads_agreement ON document_downloads (agreement_id, downloaded_at);
