-- The newest reminder command (schedule or cancel) applied per agreement. Commands
-- travel on separate consumers and may arrive in any order; one older than the
-- newest applied is stale and ignored, so a late "schedule" cannot bring back
-- reminders that a newer "cancel" (voiding, switching off) removed.
CREATE TABLE reminder_commands (
    agreement_id  text PRIMARY KEY,
    command       text        NOT NULL CHECK (command IN ('schedule', 'cancel')),
    issued_at     timestamptz NOT NULL
);
