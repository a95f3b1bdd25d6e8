-- Programs: one continuous output (one encoder) sent to destinations, fed by whichever camera
-- is on air. What was on air and whether it ran are kept so a restart resumes it.

CREATE TABLE programs (
    id                 INTEGER PRIMARY KEY,
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

CREATE TABLE program_destinations (
    program_id     INTEGER NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
    destination_id INTEGER NOT NULL REFERENCES destinations(id) ON DELETE RESTRICT,
    PRIMARY KEY (program_id, destination_id)
);
