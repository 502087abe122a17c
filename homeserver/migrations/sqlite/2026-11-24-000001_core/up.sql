-- Hearth homeserver core schema (SQLite). Timestamps are unix milliseconds (BIGINT);
-- ids are UUID text; the event log's `seq` is this server's append-only cursor.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    nick TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_active_ms BIGINT NOT NULL
);

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL,
    cursor BIGINT NOT NULL
);
CREATE INDEX devices_user ON devices(user_id);

-- A room is anything events are addressed to: a channel, a DM conversation, a user's own stream.
CREATE TABLE rooms (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    room_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    event_count BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE channels (
    room_id BIGINT PRIMARY KEY NOT NULL REFERENCES rooms(id),
    name TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL DEFAULT '',
    topic_set_by TEXT,
    topic_set_ms BIGINT,
    owner_id TEXT NOT NULL REFERENCES users(id),
    created_ms BIGINT NOT NULL,
    mode_invite_only BOOLEAN NOT NULL DEFAULT FALSE,
    mode_moderated BOOLEAN NOT NULL DEFAULT FALSE,
    mode_secret BOOLEAN NOT NULL DEFAULT FALSE,
    mode_topic_ops BOOLEAN NOT NULL DEFAULT TRUE,
    mode_no_external BOOLEAN NOT NULL DEFAULT TRUE,
    chan_key TEXT,
    user_limit BIGINT
);

-- Current members of a channel, with their member modes.
CREATE TABLE members (
    room_id BIGINT NOT NULL REFERENCES rooms(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    is_op BOOLEAN NOT NULL DEFAULT FALSE,
    is_voice BOOLEAN NOT NULL DEFAULT FALSE,
    joined_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX members_user ON members(user_id);

-- Delivery windows: a user receives a room's events with from_seq <= seq <= to_seq.
-- An open window (current member) has to_seq = 9223372036854775807.
CREATE TABLE spans (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms(id),
    from_seq BIGINT NOT NULL,
    to_seq BIGINT NOT NULL
);
CREATE INDEX spans_user ON spans(user_id, to_seq);
CREATE INDEX spans_room ON spans(room_id, to_seq);

-- The append-only event log: one stored copy of each event.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    id TEXT NOT NULL UNIQUE,
    room_id BIGINT NOT NULL REFERENCES rooms(id),
    ts_ms BIGINT NOT NULL,
    sender TEXT NOT NULL,
    sender_id TEXT,
    recipient TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    meta TEXT NOT NULL,
    reply_to TEXT,
    target TEXT
);
CREATE INDEX events_room_seq ON events(room_id, seq);

-- Idempotent sends: a repeated (device, txn_id) answers with the stored first result.
CREATE TABLE txns (
    device_id TEXT NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    txn_id TEXT NOT NULL,
    response TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, txn_id)
);

CREATE TABLE invites (
    room_id BIGINT NOT NULL REFERENCES rooms(id),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    invited_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
