-- Per-room gap-free positions: on a channel's host this is the channel's sequence number that
-- member servers order by and pull with; on a member server it is the host's number.
ALTER TABLE rooms ADD COLUMN last_room_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN room_seq BIGINT;
-- The origin-signed wire form of an event received from another server (to relay it onward).
ALTER TABLE events ADD COLUMN wire TEXT;
CREATE INDEX events_room_room_seq ON events(room_id, room_seq);

-- On a host: members of its channels who live on other servers.
CREATE TABLE remote_members (
    room_id BIGINT NOT NULL REFERENCES rooms(id),
    handle TEXT COLLATE "C" NOT NULL,
    server TEXT NOT NULL,
    is_op BOOLEAN NOT NULL DEFAULT FALSE,
    is_voice BOOLEAN NOT NULL DEFAULT FALSE,
    joined_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, handle)
);
CREATE INDEX remote_members_server ON remote_members(room_id, server);

-- On a member server: the local copy of a channel hosted elsewhere, and how far it has got.
CREATE TABLE mirrors (
    room_id BIGINT PRIMARY KEY NOT NULL REFERENCES rooms(id),
    channel TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    host_seq BIGINT NOT NULL
);
