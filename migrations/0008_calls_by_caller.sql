-- The screen pop shows a caller's last calls: found by the caller's
-- canonical number, newest first.
CREATE INDEX calls_caller ON calls (caller, offered_at);
