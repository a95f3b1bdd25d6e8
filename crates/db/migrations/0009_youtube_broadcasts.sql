-- YouTube broadcasts made by the appliance (optional per destination, beside the plain stream
-- key). Every token, the OAuth client secret and the pending device code are sealed by the
-- appliance like stream_key_enc (`SecretBox`): SQL only ever sees `v1:` ciphertext.

-- The Google sign-in of one destination (OAuth 2.0 for limited-input devices).
CREATE TABLE youtube_links (
    destination_id     INTEGER PRIMARY KEY REFERENCES destinations(id) ON DELETE CASCADE,
    -- The OAuth client of type "TV and Limited Input devices" the user made in Google Cloud.
    client_id          TEXT    NOT NULL,
    client_secret_enc  TEXT    NOT NULL,
    -- signed_out: no token; pending: a code is shown and the token endpoint is polled;
    -- linked: tokens held; needs_sign_in: Google refused the refresh token (revoked, expired).
    state              TEXT    NOT NULL DEFAULT 'signed_out'
                       CHECK (state IN ('signed_out', 'pending', 'linked', 'needs_sign_in')),
    device_code_enc    TEXT,
    user_code          TEXT,
    verification_url   TEXT,
    -- RFC 3339: when the shown code stops working.
    code_expires_at    TEXT,
    poll_interval_s    INTEGER,
    access_token_enc   TEXT,
    access_expires_at  TEXT,
    refresh_token_enc  TEXT,
    -- The reusable liveStream every broadcast of this destination is bound to; its ingestion
    -- address and stream name are the destination's url and (sealed) stream key.
    stream_id          TEXT,
    -- Why the last step failed, in plain words (never a token).
    last_error         TEXT,
    updated_at         TEXT    NOT NULL
);

-- What the broadcasts of a timeline's schedule windows look like on one destination.
CREATE TABLE youtube_broadcast_settings (
    destination_id     INTEGER NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
    timeline_id        TEXT    NOT NULL REFERENCES timelines(id) ON DELETE CASCADE,
    title              TEXT    NOT NULL,
    description        TEXT    NOT NULL DEFAULT '',
    privacy            TEXT    NOT NULL DEFAULT 'unlisted'
                       CHECK (privacy IN ('public', 'unlisted', 'private')),
    -- A YouTube video category id ("22" People & Blogs); NULL leaves YouTube's default.
    category_id        TEXT,
    thumbnail_asset_id INTEGER REFERENCES assets(id) ON DELETE SET NULL,
    updated_at         TEXT    NOT NULL,
    PRIMARY KEY (destination_id, timeline_id)
);
CREATE INDEX youtube_broadcast_settings_timeline ON youtube_broadcast_settings(timeline_id);
CREATE INDEX youtube_broadcast_settings_asset ON youtube_broadcast_settings(thumbnail_asset_id);

-- Every broadcast made, one per schedule window (a complete broadcast never goes live again).
CREATE TABLE youtube_broadcasts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    destination_id INTEGER NOT NULL REFERENCES destinations(id) ON DELETE CASCADE,
    timeline_id    TEXT    NOT NULL,
    -- YouTube's id, once liveBroadcasts.insert answered.
    broadcast_id   TEXT,
    title          TEXT    NOT NULL,
    -- creating → waiting (bound, waiting for YouTube to see data) → live → complete;
    -- cancelled: the window ended before it went live; failed: given up (the error says why).
    state          TEXT    NOT NULL
                   CHECK (state IN ('creating', 'waiting', 'live', 'complete', 'cancelled', 'failed')),
    last_error     TEXT,
    -- How many liveBroadcasts.transition calls to live failed (retried with backoff).
    transition_failures INTEGER NOT NULL DEFAULT 0,
    scheduled_start TEXT   NOT NULL,
    window_end     TEXT,
    live_at        TEXT,
    ended_at       TEXT,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);
CREATE INDEX youtube_broadcasts_destination ON youtube_broadcasts(destination_id, id);
-- At most one open broadcast per destination and timeline: a window is never made twice.
CREATE UNIQUE INDEX youtube_broadcasts_open ON youtube_broadcasts(destination_id, timeline_id)
    WHERE state IN ('creating', 'waiting', 'live');
