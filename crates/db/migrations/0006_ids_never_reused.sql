-- Ids are never reused. Without AUTOINCREMENT SQLite gives a new row MAX(id) + 1, so after
-- deleting cameras 5 and 6 the next camera was 5 again and a stale reference (an open tab,
-- VistterStudio, a script) silently pointed at another camera. Every table whose integer ids
-- leave the appliance is rebuilt as INTEGER PRIMARY KEY AUTOINCREMENT: users, api_tokens,
-- cameras, presets, destinations, streams, assets, overlays, programs. Not rebuilt: sessions and
-- audit_log (their ids never leave), settings and timelines (text keys), and the link tables
-- (composite keys, no id of their own).
--
-- SQLite cannot ALTER a column into AUTOINCREMENT, so this follows its 12-step procedure
-- (https://sqlite.org/lang_altertable.html#otheralter): create the new table, copy every row
-- with its id, drop the old table, rename the new one, recreate its indexes. Each table keeps
-- its columns in the same order, and every CHECK, DEFAULT, UNIQUE, COLLATE, foreign key and
-- index, as written in 0001-0005 (cameras.credential_query, added by 0005, stays last).
--
-- How it runs: sqlx runs every SQLite migration inside a transaction (it ignores
-- `-- no-transaction` for SQLite: launchbadge/sqlx#2085), and PRAGMA foreign_keys cannot change
-- inside one. So `Db::connect` turns foreign keys off on the connection that migrates, before
-- any migration, and back on after. That matters here: with foreign keys on, DROP TABLE runs
-- an implicit DELETE, which would delete children (presets, sessions, tokens, stream and
-- program links), clear references (streams.preset_id, programs.on_air_camera_id) or fail on
-- RESTRICT. The first statement refuses to go on if they are on.
-- The last ones refuse to commit if a reference is left dangling (PRAGMA foreign_key_check);
-- either failure rolls the whole migration back.
--
-- sqlite_sequence: copying the rows with their explicit ids records each table's current
-- MAX(id) as its sequence (and the RENAME carries that entry over), so no id present now is
-- ever issued again. Ids deleted before this migration above the current maximum cannot be
-- known (SQLite kept no record of them), so those may still be handed out once more.

CREATE TEMP TABLE migration_0006_guard (
    foreign_keys INTEGER
        CONSTRAINT "migration 0006 must run with PRAGMA foreign_keys=OFF (see Db::connect)"
        CHECK (foreign_keys = 0)
);
INSERT INTO temp.migration_0006_guard SELECT foreign_keys FROM pragma_foreign_keys;

-- users ------------------------------------------------------------------------------------
CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
INSERT INTO users_new (id, username, password_hash, created_at, updated_at)
    SELECT id, username, password_hash, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- api_tokens -------------------------------------------------------------------------------
-- Bearer tokens for machine clients (VistterStudio). Only a SHA-256 is stored; `prefix` is the
-- first characters, shown so a user can tell tokens apart.
CREATE TABLE api_tokens_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
INSERT INTO api_tokens_new (id, user_id, name, token_hash, prefix, created_at, last_used_at,
                            revoked_at)
    SELECT id, user_id, name, token_hash, prefix, created_at, last_used_at, revoked_at
    FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
CREATE UNIQUE INDEX api_tokens_name ON api_tokens(user_id, name) WHERE revoked_at IS NULL;

-- cameras ----------------------------------------------------------------------------------
CREATE TABLE cameras_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
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
    updated_at   TEXT    NOT NULL,
    -- Where the login goes in the address (0005): NULL for the userinfo, else JSON
    -- {"user":"<param>","password":"<param>"} naming the query parameters.
    credential_query TEXT
);
INSERT INTO cameras_new (id, name, type, protocol, address, username, password_enc, onvif_host,
                         onvif_port, enabled, created_at, updated_at, credential_query)
    SELECT id, name, type, protocol, address, username, password_enc, onvif_host,
           onvif_port, enabled, created_at, updated_at, credential_query
    FROM cameras;
DROP TABLE cameras;
ALTER TABLE cameras_new RENAME TO cameras;

-- presets ----------------------------------------------------------------------------------
CREATE TABLE presets_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO presets_new (id, camera_id, name, pan, tilt, zoom, onvif_token, settle_ms,
                         created_at, updated_at)
    SELECT id, camera_id, name, pan, tilt, zoom, onvif_token, settle_ms, created_at, updated_at
    FROM presets;
DROP TABLE presets;
ALTER TABLE presets_new RENAME TO presets;

-- destinations -----------------------------------------------------------------------------
CREATE TABLE destinations_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    platform       TEXT    NOT NULL CHECK (platform IN ('youtube', 'facebook', 'twitch', 'custom')),
    -- The server URL without the stream key, e.g. rtmp://a.rtmp.youtube.com/live2
    url            TEXT    NOT NULL,
    stream_key_enc TEXT,
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);
INSERT INTO destinations_new (id, name, platform, url, stream_key_enc, enabled, created_at,
                              updated_at)
    SELECT id, name, platform, url, stream_key_enc, enabled, created_at, updated_at
    FROM destinations;
DROP TABLE destinations;
ALTER TABLE destinations_new RENAME TO destinations;

-- streams ----------------------------------------------------------------------------------
CREATE TABLE streams_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    camera_id     INTEGER NOT NULL REFERENCES cameras(id) ON DELETE RESTRICT,
    preset_id     INTEGER REFERENCES presets(id) ON DELETE SET NULL,
    -- What the user asked for; a stream that should run is started again after a restart.
    desired_state TEXT    NOT NULL DEFAULT 'stopped' CHECK (desired_state IN ('running', 'stopped')),
    status        TEXT    NOT NULL DEFAULT 'stopped',
    started_at    TEXT,
    last_error    TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
INSERT INTO streams_new (id, name, camera_id, preset_id, desired_state, status, started_at,
                         last_error, created_at, updated_at)
    SELECT id, name, camera_id, preset_id, desired_state, status, started_at,
           last_error, created_at, updated_at
    FROM streams;
DROP TABLE streams;
ALTER TABLE streams_new RENAME TO streams;

-- assets -----------------------------------------------------------------------------------
CREATE TABLE assets_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('image')),
    mime       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL UNIQUE,
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_at TEXT    NOT NULL
);
INSERT INTO assets_new (id, name, kind, mime, sha256, size, created_at)
    SELECT id, name, kind, mime, sha256, size, created_at FROM assets;
DROP TABLE assets;
ALTER TABLE assets_new RENAME TO assets;

-- overlays ---------------------------------------------------------------------------------
CREATE TABLE overlays_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    kind        TEXT    NOT NULL CHECK (kind IN ('image', 'text', 'clock', 'url_image', 'url_text')),
    -- JSON: default placement, opacity, text, font size, colours, clock format, url, refresh.
    definition  TEXT    NOT NULL DEFAULT '{}',
    -- RESTRICT: an image still shown by an overlay cannot disappear under it.
    asset_id    INTEGER REFERENCES assets(id) ON DELETE RESTRICT,
    -- JSON array: the VistterStudio references (asset ids, paths) this overlay answers to, so
    -- a segment pushed by the studio finds it.
    studio_keys TEXT    NOT NULL DEFAULT '[]',
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
INSERT INTO overlays_new (id, name, kind, definition, asset_id, studio_keys, created_at,
                          updated_at)
    SELECT id, name, kind, definition, asset_id, studio_keys, created_at, updated_at
    FROM overlays;
DROP TABLE overlays;
ALTER TABLE overlays_new RENAME TO overlays;
CREATE INDEX overlays_asset ON overlays(asset_id);

-- programs ---------------------------------------------------------------------------------
CREATE TABLE programs_new (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    name               TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    width              INTEGER NOT NULL CHECK (width BETWEEN 160 AND 3840 AND width % 2 = 0),
    height             INTEGER NOT NULL CHECK (height BETWEEN 90 AND 2160 AND height % 2 = 0),
    fps                INTEGER NOT NULL CHECK (fps BETWEEN 1 AND 60),
    video_bitrate_kbps INTEGER NOT NULL CHECK (video_bitrate_kbps BETWEEN 200 AND 20000),
    -- 'auto' (probe) or an FFmpeg encoder name.
    encoder            TEXT    NOT NULL DEFAULT 'auto',
    slate_text         TEXT    NOT NULL DEFAULT 'We''ll be right back',
    -- JSON list of {"overlay_id", "visible"}: the overlays of this program.
    overlays           TEXT    NOT NULL DEFAULT '[]',
    desired_state      TEXT    NOT NULL DEFAULT 'stopped' CHECK (desired_state IN ('running', 'stopped')),
    on_air_camera_id   INTEGER REFERENCES cameras(id) ON DELETE SET NULL,
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL
);
INSERT INTO programs_new (id, name, width, height, fps, video_bitrate_kbps, encoder, slate_text,
                          overlays, desired_state, on_air_camera_id, created_at, updated_at)
    SELECT id, name, width, height, fps, video_bitrate_kbps, encoder, slate_text,
           overlays, desired_state, on_air_camera_id, created_at, updated_at
    FROM programs;
DROP TABLE programs;
ALTER TABLE programs_new RENAME TO programs;

-- Every reference still resolves, or nothing of this migration is kept. ---------------------
CREATE TEMP TABLE migration_0006_check (
    violations INTEGER
        CONSTRAINT "migration 0006 would leave foreign key violations (PRAGMA foreign_key_check)"
        CHECK (violations = 0)
);
INSERT INTO temp.migration_0006_check SELECT COUNT(*) FROM pragma_foreign_key_check;

DROP TABLE temp.migration_0006_check;
DROP TABLE temp.migration_0006_guard;
