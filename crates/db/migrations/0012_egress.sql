-- RTMPS destinations verify the server's certificate (names and issuer, against the Mozilla
-- roots) unless this is 0: a per-destination switch for self-signed test servers only. The
-- appliance publishes RTMP(S) from its own process, so this is the only TLS setting there is.
ALTER TABLE destinations ADD COLUMN tls_verify INTEGER NOT NULL DEFAULT 1 CHECK (tls_verify IN (0, 1));

-- A program may step its video bitrate down while a destination's uplink is congested, and
-- back up when it recovers (restarting only its encoder). Off unless asked for.
ALTER TABLE programs ADD COLUMN adaptive_bitrate INTEGER NOT NULL DEFAULT 0 CHECK (adaptive_bitrate IN (0, 1));
