-- The stuck-saga sweep records when it last drove an IOU's pending step again.
ALTER TABLE ious ADD COLUMN nudged_at timestamptz;
ALTER TABLE ious ADD COLUMN nudges integer NOT NULL DEFAULT 0;

-- An open void request may carry a deadline for the other party's answer.
ALTER TABLE void_requests ADD COLUMN answer_due_at timestamptz;
