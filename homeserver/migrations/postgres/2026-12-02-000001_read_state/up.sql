-- Read state (DESIGN.md, "Rich chat"). One row per reader and conversation, moved forward in
-- place: unread counts come from the room's log positions after `seq` (the events_room_seq
-- index), never from a row per recipient per message.
-- `reader` is a local user's id (`is_local`), or `nick@server` for a user of another server
-- whose receipt this server received for a conversation it has (a channel it hosts or mirrors,
-- or a DM with one of its users). `seq` is this server's log position of `event_id`.
CREATE TABLE read_markers (
    room_id BIGINT NOT NULL REFERENCES rooms(id),
    reader TEXT NOT NULL,
    is_local BOOLEAN NOT NULL,
    seq BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, reader)
);
CREATE INDEX read_markers_reader ON read_markers(reader);

-- What a local user shows of themselves: display name, avatar, presence status and message.
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    display_name TEXT,
    avatar TEXT,
    status TEXT NOT NULL DEFAULT 'online',
    status_message TEXT,
    updated_ms BIGINT NOT NULL
);
