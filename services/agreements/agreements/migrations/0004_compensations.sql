-- Each undoing the saga asked for (close the flow in notify, supersede previews in
-- documents, cancel reminders) and when its service reported it done.
CREATE TABLE saga_compensations (
    iou_id        uuid        NOT NULL REFERENCES ious (id),
    compensation  text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    detail        text,
    PRIMARY KEY (iou_id, compensation)
);
CREATE INDEX saga_compensations_pending ON saga_compensations (requested_at)
    WHERE completed_at IS NULL;
