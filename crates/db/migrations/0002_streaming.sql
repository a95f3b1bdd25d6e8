-- Destinations (YouTube, Facebook, Twitch, custom RTMP/RTMPS/SRT) and camera-to-destination
-- streams. Stream keys are sealed like camera passwords.

CREATE TABLE destinations (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    platform       TEXT    NOT NULL CHECK (platform IN ('youtube', 'facebook', 'twitch', 'custom')),
    -- The server URL without the stream key, e.g. rtmp://a.rtmp.youtube.com/live2
    url            TEXT    NOT NULL,
    stream_key_enc TEXT,
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);

CREATE TABLE streams (
    id            INTEGER PRIMARY KEY,
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

CREATE TABLE stream_destinations (
    stream_id      INTEGER NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
    destination_id INTEGER NOT NULL REFERENCES destinations(id) ON DELETE RESTRICT,
    PRIMARY KEY (stream_id, destination_id)
);
CREATE INDEX stream_destinations_dest ON stream_destinations(destination_id);
