-- Operators: the SIP credentials of their phones, the phones' registrations,
-- every change of an operator's state, the legs that rang their phones, and
-- the callbacks owed to callers who gave up waiting.
-- Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Times are UTC milliseconds since the Unix epoch.

-- What digest authentication needs (RFC 7616 §3.4.2: HA1 = H(user:realm:pass)),
-- per algorithm, never the password itself. The SIP username is the user name.
CREATE TABLE sip_credentials (
    user_id         TEXT PRIMARY KEY REFERENCES users (id),
    realm           TEXT NOT NULL,
    ha1_md5         TEXT NOT NULL,
    ha1_sha256      TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- A registered contact of an operator's phone (RFC 3261 §10.3), kept so a
-- restart does not forget who is logged in.
CREATE TABLE sip_bindings (
    user_id         TEXT NOT NULL REFERENCES users (id),
    contact         TEXT NOT NULL,
    -- Where the REGISTER came from (ip:port) and how: requests to the phone
    -- go there (the phone may be behind NAT).
    source          TEXT NOT NULL,
    transport       TEXT NOT NULL,
    call_id         TEXT NOT NULL,
    cseq            BIGINT NOT NULL,
    user_agent      TEXT,
    instance        TEXT,
    registered_at   BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    -- Since when the phone does not answer (keep-alive or INVITE); NULL
    -- while it does.
    unreachable_since BIGINT,
    node            TEXT NOT NULL,
    PRIMARY KEY (user_id, contact)
);

CREATE INDEX sip_bindings_expires_at ON sip_bindings (expires_at);

-- Every change of an operator's state, with its time: login time,
-- occupancy and break time are computed from it.
CREATE TABLE operator_states (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    state           TEXT NOT NULL,
    reason          TEXT,
    call_id         TEXT,
    at              BIGINT NOT NULL
);

CREATE INDEX operator_states_user_at ON operator_states (user_id, at);

-- Each time a queued call rang an operator's phone.
CREATE TABLE call_legs (
    id              TEXT PRIMARY KEY,
    call_id         TEXT NOT NULL REFERENCES calls (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    contact         TEXT NOT NULL,
    ring_started_at BIGINT NOT NULL,
    answered_at     BIGINT,
    ended_at        BIGINT,
    -- `answered`, `no_answer`, `refused`, `unreachable`, `caller_left`.
    outcome         TEXT,
    sip_status      INTEGER
);

CREATE INDEX call_legs_call_id ON call_legs (call_id);

-- Calls owed to someone: `missed` (a caller who gave up in the queue),
-- later also the follow-up callbacks of work orders.
CREATE TABLE callbacks (
    id              TEXT PRIMARY KEY,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL,
    number          TEXT NOT NULL,
    call_id         TEXT REFERENCES calls (id),
    ticket_id       TEXT,
    community       TEXT,
    due_at          BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- One missed-call callback per call, whichever node writes it.
CREATE UNIQUE INDEX callbacks_missed_call ON callbacks (call_id) WHERE reason = 'missed';
CREATE INDEX callbacks_status_due ON callbacks (status, due_at);

-- What the queue and the bridge add to a call record.
ALTER TABLE calls ADD COLUMN queue_entered_at BIGINT;
ALTER TABLE calls ADD COLUMN queue_left_at BIGINT;
-- `answered`, `abandoned`, `voicemail`, `max_wait`.
ALTER TABLE calls ADD COLUMN queue_outcome TEXT;
ALTER TABLE calls ADD COLUMN operator_id TEXT;
ALTER TABLE calls ADD COLUMN talk_ms BIGINT;
ALTER TABLE calls ADD COLUMN hold_ms BIGINT;
-- Who hung up: `caller`, `operator` or `hotline`.
ALTER TABLE calls ADD COLUMN hung_up_by TEXT;
