-- The owner archive (业主档案): communities, rooms, people, their residences
-- (a person in a room, with a role) and their phones.
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Ids are
-- application-made UUIDv7 text; times are UTC milliseconds since the epoch.

-- 小区. `numbers`: the hotline numbers that reach it, comma-separated.
CREATE TABLE archive_communities (
    id          TEXT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    numbers     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- 楼栋 / 单元 / 房号, canonical (desk::RoomAddress); entrance 0 = none.
CREATE TABLE archive_rooms (
    id            TEXT PRIMARY KEY,
    community_id  TEXT NOT NULL REFERENCES archive_communities (id),
    building      TEXT NOT NULL,
    entrance      BIGINT NOT NULL,
    room          TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX archive_rooms_address ON archive_rooms (community_id, building, entrance, room);
-- Room lookups that do not know the community.
CREATE INDEX archive_rooms_room ON archive_rooms (room, building);

-- A person, identified by (community, name, identity); identity is
-- `tel:<number>[;ext=<ext>]` for the first phone of the row, or
-- `room:<canonical room>` when the row has no phone.
CREATE TABLE archive_people (
    id            TEXT PRIMARY KEY,
    community_id  TEXT NOT NULL REFERENCES archive_communities (id),
    name          TEXT NOT NULL,
    identity      TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE UNIQUE INDEX archive_people_identity ON archive_people (community_id, name, identity);
CREATE INDEX archive_people_name ON archive_people (name);

-- A person in a room: 业主 owner, 租户 tenant, 家属 household member.
CREATE TABLE archive_residences (
    person_id   TEXT NOT NULL REFERENCES archive_people (id),
    room_id     TEXT NOT NULL REFERENCES archive_rooms (id),
    role        TEXT NOT NULL,
    note        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (person_id, room_id)
);
CREATE INDEX archive_residences_room ON archive_residences (room_id, person_id);

-- A person's phone: as received (`raw`), normalised (`number`: E.164 or the
-- service number's digits), its kind, its extension ('' = none) and the
-- column it came from (`mobile` 手机 or `phone` 电话). A family line is one
-- row per person; the screen pop looks it up by `number`.
CREATE TABLE archive_phones (
    id          TEXT PRIMARY KEY,
    person_id   TEXT NOT NULL REFERENCES archive_people (id),
    number      TEXT NOT NULL,
    extension   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    raw         TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX archive_phones_person ON archive_phones (person_id, number, extension);
CREATE INDEX archive_phones_number ON archive_phones (number);

-- Rows of an import in progress, written and emptied inside the import's
-- one transaction (never visible committed): lets the import find
-- conflicts and upsert set-wise without holding the file in memory.
CREATE TABLE archive_import_rows (
    import_id      TEXT NOT NULL,
    row_no         BIGINT NOT NULL,
    community_id   TEXT NOT NULL,
    building       TEXT NOT NULL,
    entrance       BIGINT NOT NULL,
    room           TEXT NOT NULL,
    name           TEXT NOT NULL,
    identity       TEXT NOT NULL,
    role           TEXT NOT NULL,
    note           TEXT NOT NULL,
    mobile_number  TEXT,
    mobile_ext     TEXT,
    mobile_kind    TEXT,
    mobile_raw     TEXT,
    phone_number   TEXT,
    phone_ext      TEXT,
    phone_kind     TEXT,
    phone_raw      TEXT,
    room_id        TEXT NOT NULL,
    person_id      TEXT NOT NULL,
    mobile_id      TEXT NOT NULL,
    phone_id       TEXT NOT NULL,
    record         TEXT NOT NULL,
    first_row      BIGINT,
    outcome        TEXT,
    PRIMARY KEY (import_id, row_no)
);
CREATE INDEX archive_import_rows_key ON archive_import_rows
    (import_id, community_id, building, entrance, room, name, identity, row_no);
