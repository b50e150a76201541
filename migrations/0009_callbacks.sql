-- Callbacks dialled by the daemon: the 回访 survey of a resolved work order,
-- the missed-call callback, and those an operator schedules by hand. Each is
-- claimed by one dialer at a time (a lease), and each try is an attempt.
ALTER TABLE callbacks ADD COLUMN person_id TEXT;
ALTER TABLE callbacks ADD COLUMN note TEXT;
ALTER TABLE callbacks ADD COLUMN created_by TEXT;
-- The operator a manual task is for.
ALTER TABLE callbacks ADD COLUMN assignee TEXT;
ALTER TABLE callbacks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- The node dialling it and until when its claim holds.
ALTER TABLE callbacks ADD COLUMN claimed_by TEXT;
ALTER TABLE callbacks ADD COLUMN lease_until BIGINT;
-- The cause of the last failed attempt, and the survey's answer.
ALTER TABLE callbacks ADD COLUMN last_cause TEXT;
ALTER TABLE callbacks ADD COLUMN result TEXT;
ALTER TABLE callbacks ADD COLUMN completed_at BIGINT;
ALTER TABLE callbacks ADD COLUMN completed_by TEXT;

-- One live follow-up per work order, whichever node resolves it.
CREATE UNIQUE INDEX callbacks_followup_ticket ON callbacks (ticket_id)
    WHERE reason = 'followup' AND status IN ('pending', 'dialing', 'retry_wait', 'manual');
CREATE INDEX callbacks_ticket ON callbacks (ticket_id);

-- Each try of a callback: when, by which node, the SIP responses seen, how
-- it ended (`answered`, `busy`, `no_answer`, `unreachable`, `declined`,
-- `trunk_failure`, `interrupted`) and the call record of an answered one.
CREATE TABLE callback_attempts (
    callback_id   TEXT NOT NULL REFERENCES callbacks (id),
    attempt       INTEGER NOT NULL,
    node          TEXT NOT NULL,
    trunk         TEXT,
    started_at    BIGINT NOT NULL,
    ended_at      BIGINT,
    outcome       TEXT,
    sip_status    INTEGER,
    -- The provisional and final statuses in order, e.g. `100 180 200`.
    responses     TEXT NOT NULL DEFAULT '',
    call_id       TEXT,
    digit         TEXT,
    PRIMARY KEY (callback_id, attempt)
);

-- The 回访 result on the work order, and the complaint-grade flag a
-- dissatisfied owner raises.
ALTER TABLE tickets ADD COLUMN satisfaction TEXT;
ALTER TABLE tickets ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0;

-- 勿扰: a person never dialled automatically.
ALTER TABLE archive_people ADD COLUMN do_not_call INTEGER NOT NULL DEFAULT 0;
