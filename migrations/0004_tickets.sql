-- Work orders (工单), their holds, their append-only history, their daily
-- numbering counters and the calls they concern.
-- Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Ids are application-made UUIDv7 text; times are UTC milliseconds since the
-- Unix epoch; codes (kind, status…) are the desk's stable snake_case codes.
CREATE TABLE tickets (
    id                  TEXT PRIMARY KEY,
    number              TEXT NOT NULL UNIQUE,
    community           TEXT NOT NULL,
    kind                TEXT NOT NULL,
    category            TEXT,
    priority            TEXT NOT NULL,
    grade               TEXT,
    source              TEXT NOT NULL,
    status              TEXT NOT NULL,
    -- Status data: where an on-hold ticket resumes to, why it was cancelled.
    resume_to           TEXT,
    cancel_reason       TEXT,
    room                TEXT,
    location            TEXT,
    reporter_name       TEXT,
    reporter_phone_raw  TEXT,
    -- The canonical number (E.164 or service number) the archive matches on.
    reporter_phone      TEXT,
    -- The archive's person id; no foreign key (the archive has its own migration).
    person_id           TEXT,
    description         TEXT NOT NULL,
    department          TEXT,
    assignee            TEXT,
    fee_cents           BIGINT,
    -- 0 or 1: sqlx's Any driver cannot read SQLite's BOOLEAN.
    paid                INTEGER NOT NULL DEFAULT 0,
    respond_by          BIGINT NOT NULL,
    arrive_by           BIGINT,
    resolve_by          BIGINT NOT NULL,
    responded_at        BIGINT,
    arrived_at          BIGINT,
    resolved_at         BIGINT,
    -- The earliest deadline still owed, time on hold added back; NULL while
    -- on hold (a hold stops the clocks) or when nothing is owed. Kept by the
    -- desk on every write so "overdue" is one indexed comparison.
    due_at              BIGINT,
    created_by          TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    -- Optimistic concurrency: every change of the ticket's fields bumps it.
    version             BIGINT NOT NULL,
    -- The seq of the last event appended to its history.
    last_event_seq      BIGINT NOT NULL
);

CREATE INDEX tickets_status ON tickets (status, created_at);
CREATE INDEX tickets_created_at ON tickets (created_at);
CREATE INDEX tickets_community ON tickets (community, created_at);
CREATE INDEX tickets_due_at ON tickets (due_at);
CREATE INDEX tickets_reporter_phone ON tickets (reporter_phone);
CREATE INDEX tickets_person_id ON tickets (person_id);
CREATE INDEX tickets_department ON tickets (department, status);

-- Stretches of time on hold; ended_at is NULL while the hold lasts.
CREATE TABLE ticket_holds (
    ticket_id   TEXT NOT NULL REFERENCES tickets (id),
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    PRIMARY KEY (ticket_id, started_at)
);

-- The history: append-only (the store offers no update or delete of it).
CREATE TABLE ticket_events (
    id           TEXT PRIMARY KEY,
    ticket_id    TEXT NOT NULL REFERENCES tickets (id),
    seq          BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT,
    note         TEXT,
    -- JSON array of {"field", "from", "to"}.
    changes      TEXT NOT NULL,
    UNIQUE (ticket_id, seq)
);

-- Per-community, per-business-day sequence of ticket numbers (`next` is the
-- sequence handed out last). One atomic upsert allocates the next number in
-- the transaction that inserts the ticket, so nodes sharing a database never
-- hand out the same number.
CREATE TABLE ticket_counters (
    community  TEXT NOT NULL,
    day        TEXT NOT NULL,
    next       BIGINT NOT NULL,
    PRIMARY KEY (community, day)
);

CREATE TABLE ticket_calls (
    ticket_id  TEXT NOT NULL REFERENCES tickets (id),
    call_id    TEXT NOT NULL REFERENCES calls (id),
    linked_at  BIGINT NOT NULL,
    PRIMARY KEY (ticket_id, call_id)
);

CREATE INDEX ticket_calls_call_id ON ticket_calls (call_id);
