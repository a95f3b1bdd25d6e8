-- Timelines, overlays and the image assets overlays show. Never edit a migration after it has
-- landed: add a new one.

-- Uploaded files, stored once per content: the bytes live in <data_dir>/assets/<sha256>, so the
-- same image pushed twice (by the UI or by VistterStudio) is one asset.
CREATE TABLE assets (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('image')),
    mime       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL UNIQUE,
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_at TEXT    NOT NULL
);

CREATE TABLE overlays (
    id          INTEGER PRIMARY KEY,
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
CREATE INDEX overlays_asset ON overlays(asset_id);

CREATE TABLE timelines (
    -- Text: segments from VistterStudio keep the id the studio starts them by.
    id              TEXT    PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    -- JSON of the appliance's timeline model (never with a credential).
    model           TEXT    NOT NULL,
    -- Copies of model fields, for queries that should not parse every document.
    playback        TEXT    NOT NULL CHECK (playback IN ('loop', 'once')),
    destination_ids TEXT    NOT NULL DEFAULT '[]',
    -- JSON {days, start, end, tz}; NULL: runs only when started by hand.
    schedule        TEXT,
    -- JSON {config id: sealed key}: API keys taken out of an imported segment.
    api_keys_enc    TEXT,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);

-- What each timeline refers to, rewritten with the timeline. RESTRICT makes deleting a camera
-- or an overlay that a timeline still shows a clear 409 instead of a broken timeline.
CREATE TABLE timeline_cameras (
    timeline_id TEXT    NOT NULL REFERENCES timelines(id) ON DELETE CASCADE,
    camera_id   INTEGER NOT NULL REFERENCES cameras(id) ON DELETE RESTRICT,
    PRIMARY KEY (timeline_id, camera_id)
);
CREATE INDEX timeline_cameras_camera ON timeline_cameras(camera_id);

CREATE TABLE timeline_overlays (
    timeline_id TEXT    NOT NULL REFERENCES timelines(id) ON DELETE CASCADE,
    overlay_id  INTEGER NOT NULL REFERENCES overlays(id) ON DELETE RESTRICT,
    PRIMARY KEY (timeline_id, overlay_id)
);
CREATE INDEX timeline_overlays_overlay ON timeline_overlays(overlay_id);
