-- Channel settings: descriptions and pinned messages (issue 24).
--
-- Keyed by room, so a channel hosted here and the mirror of one hosted elsewhere keep them the
-- same way (a mirror's rows follow the host's `description` and `pin`/`unpin` events).
CREATE TABLE channel_settings (
    room_id BIGINT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    set_by TEXT,
    set_ms BIGINT
);

-- Current pins: one per message; unpinning deletes the row, and a deleted message's row goes
-- with its erasure.
CREATE TABLE pins (
    room_id BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    pinned_by TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, message_id)
);
