-- The template variables in the provider's order, for template-based providers
-- (Tencent SMS sends a template id and these values, not the rendered text).
ALTER TABLE sms_messages ADD COLUMN template_params jsonb NOT NULL DEFAULT '[]';

-- A reminder is either on the due date or an optional earlier one.
ALTER TABLE reminders ADD COLUMN kind text NOT NULL DEFAULT 'due'
    CHECK (kind IN ('due', 'early'));
ALTER TABLE reminders DROP CONSTRAINT reminders_agreement_id_seq_key;
ALTER TABLE reminders ADD CONSTRAINT reminders_agreement_seq_kind UNIQUE (agreement_id, seq, kind);

-- A renewed share link points at the link it replaced.
ALTER TABLE share_links ADD COLUMN renewed_from uuid REFERENCES share_links (id);
