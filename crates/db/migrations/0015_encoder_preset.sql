-- A program's libx264 preset: 'auto' (the slowest preset that holds real time with headroom,
-- measured on this appliance at the program's size when it starts) or one chosen by hand.
-- Hardware encoders ignore it.
ALTER TABLE programs ADD COLUMN encoder_preset TEXT NOT NULL DEFAULT 'auto'
    CHECK (encoder_preset IN ('auto', 'ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'));
