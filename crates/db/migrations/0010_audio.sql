-- Program audio: how each camera sounds in programs, each program's master gain and audio
-- bed, and the bed files (stored once per content under <data_dir>/audio/<sha256>). Rows are
-- optional: a camera or program without one has the defaults (on, 0 dB, no bed).

CREATE TABLE audio_beds (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    mime       TEXT    NOT NULL,
    sha256     TEXT    NOT NULL UNIQUE,
    size       INTEGER NOT NULL CHECK (size >= 0),
    seconds    REAL    NOT NULL CHECK (seconds > 0),
    created_at TEXT    NOT NULL
);

CREATE TABLE camera_audio (
    camera_id INTEGER PRIMARY KEY REFERENCES cameras(id) ON DELETE CASCADE,
    enabled   INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    gain_db   REAL    NOT NULL DEFAULT 0 CHECK (gain_db BETWEEN -60 AND 20)
);

CREATE TABLE program_audio (
    program_id     INTEGER PRIMARY KEY REFERENCES programs(id) ON DELETE CASCADE,
    master_gain_db REAL    NOT NULL DEFAULT 0 CHECK (master_gain_db BETWEEN -60 AND 20),
    bed_id         INTEGER REFERENCES audio_beds(id) ON DELETE RESTRICT,
    bed_gain_db    REAL    NOT NULL DEFAULT -12 CHECK (bed_gain_db BETWEEN -60 AND 20),
    bed_mode       TEXT    NOT NULL DEFAULT 'under' CHECK (bed_mode IN ('under', 'instead'))
);
CREATE INDEX program_audio_bed ON program_audio(bed_id);
