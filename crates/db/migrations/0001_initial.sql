-- The foundation schema. Never edit a migration after it has landed: add a new one.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

-- Browser sessions. Only a SHA-256 of the cookie value is stored.
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    last_seen_at TEXT    NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Bearer tokens for machine clients (VistterStudio). Only a SHA-256 is stored; `prefix` is the
-- first characters, shown so a user can tell tokens apart.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE UNIQUE INDEX api_tokens_name ON api_tokens(user_id, name) WHERE revoked_at IS NULL;

CREATE TABLE cameras (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    type         TEXT    NOT NULL CHECK (type IN ('STATIC', 'PTZ')),
    protocol     TEXT    NOT NULL CHECK (protocol IN ('RTSP', 'RTSPS', 'RTMP', 'RTMPS', 'SRT')),
    -- The address never holds credentials: they are in username / password_enc.
    address      TEXT    NOT NULL,
    username     TEXT,
    password_enc TEXT,
    onvif_host   TEXT,
    onvif_port   INTEGER CHECK (onvif_port IS NULL OR onvif_port BETWEEN 1 AND 65535),
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);

CREATE TABLE presets (
    id          INTEGER PRIMARY KEY,
    camera_id   INTEGER NOT NULL REFERENCES cameras(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL COLLATE NOCASE,
    pan         REAL    NOT NULL,
    tilt        REAL    NOT NULL,
    zoom        REAL    NOT NULL,
    -- The camera-side preset token, when the preset exists on the camera itself.
    onvif_token TEXT,
    -- For cameras that never report idle: how long a move takes to settle.
    settle_ms   INTEGER,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL,
    UNIQUE (camera_id, name)
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT    NOT NULL,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action  TEXT    NOT NULL,
    target  TEXT,
    detail  TEXT
);
