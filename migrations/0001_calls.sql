-- Call records: one row per inbound or outbound call, written by telephony.
-- Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Times are UTC milliseconds since the Unix epoch.
CREATE TABLE calls (
    id                  TEXT PRIMARY KEY,
    sip_call_id         TEXT NOT NULL,
    direction           TEXT NOT NULL,
    caller_raw          TEXT NOT NULL,
    caller              TEXT,
    dialled             TEXT NOT NULL,
    community           TEXT,
    offered_at          BIGINT NOT NULL,
    answered_at         BIGINT,
    ended_at            BIGINT,
    end_reason          TEXT,
    end_code            TEXT,
    sip_status          INTEGER,
    menu_digit          TEXT,
    menu_choice         TEXT,
    voicemail_start_ms  BIGINT,
    voicemail_end_ms    BIGINT,
    recording_path      TEXT,
    duration_ms         BIGINT,
    recording_sha256    TEXT,
    node                TEXT NOT NULL
);

CREATE INDEX calls_offered_at ON calls (offered_at);
CREATE INDEX calls_sip_call_id ON calls (sip_call_id);
CREATE INDEX calls_unfinished ON calls (ended_at);
