-- The VistterStudio link (server: services/link): an outbound MQTT connection to a broker.

-- Its settings: one row. The password and the client key are sealed by the appliance like
-- every secret (v1:… text), never stored in clear; certificates are public and kept as PEM.
CREATE TABLE link_settings (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    enabled            INTEGER NOT NULL DEFAULT 0,
    -- mqtts://host[:port] or mqtt://host[:port], without credentials.
    broker_url         TEXT    NOT NULL,
    device_id          TEXT    NOT NULL,
    username           TEXT,
    password_enc       TEXT,
    client_cert_pem    TEXT,
    client_key_enc     TEXT,
    ca_cert_pem        TEXT,
    metrics_interval_s INTEGER NOT NULL DEFAULT 30 CHECK (metrics_interval_s BETWEEN 1 AND 3600),
    updated_at         TEXT    NOT NULL
);

-- Commands executed, by the studio's message_id, with the ACK they got: a redelivery (after a
-- reconnect or a restart) is answered with the same ACK, never executed twice. Kept for a
-- retention window counted from when the appliance received them (never the studio's clock).
CREATE TABLE link_commands (
    message_id  TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    ack         TEXT NOT NULL
);
CREATE INDEX link_commands_received ON link_commands(received_at);

-- Replies and events waiting for the broker, delivered in `seq` order (AUTOINCREMENT: a seq is
-- never reused, so a gap the studio sees means messages were dropped). Bounded: the oldest
-- are dropped first, counted in settings key `link_dropped_total`.
CREATE TABLE link_outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The topic below the device's prefix: ack or event.
    channel    TEXT    NOT NULL CHECK (channel IN ('ack', 'event')),
    -- The message without its seq (added when it is sent).
    message    TEXT    NOT NULL,
    created_at TEXT    NOT NULL
);
