-- A program's pre-roll choice: 'instant' keeps pre-rolled cameras decoded (a take of one is on
-- air at the next frame, for the CPU of one more decoder); 'economy' decodes only the camera on
-- air (a take starts from the hub's cached keyframe). Instant unless asked for: it is what
-- programs did before.
ALTER TABLE programs ADD COLUMN preroll TEXT NOT NULL DEFAULT 'instant' CHECK (preroll IN ('instant', 'economy'));
