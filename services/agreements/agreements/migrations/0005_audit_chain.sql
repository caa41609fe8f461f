-- The audit trail is append-only and hash-chained: each entry carries the hash of
-- the one before it in the same IOU's trail, so a removed or edited entry breaks
-- the chain. Entries written before this migration are outside the chain.
ALTER TABLE audit_log ADD COLUMN seq integer;
ALTER TABLE audit_log ADD COLUMN prev_hash text;
ALTER TABLE audit_log ADD COLUMN entry_hash text;
CREATE UNIQUE INDEX audit_log_chain ON audit_log (iou_id, seq) WHERE seq IS NOT NULL;

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
