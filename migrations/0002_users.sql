-- Users of the API and the console, and their login tokens.
-- Portable SQL: the same file runs on SQLite and PostgreSQL.
-- Times are UTC milliseconds since the Unix epoch.
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT,
    -- `operator`, `supervisor` or `admin`.
    role            TEXT NOT NULL,
    -- Argon2id in the PHC string format.
    password_hash   TEXT NOT NULL,
    -- When the account was disabled; NULL while it is enabled.
    disabled_at     BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- A login token is stored only as the hex SHA-256 of its value.
CREATE TABLE api_tokens (
    token_hash      TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);

CREATE INDEX api_tokens_user_id ON api_tokens (user_id);
CREATE INDEX api_tokens_expires_at ON api_tokens (expires_at);
