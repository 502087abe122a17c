-- Moderation (issue 18): channel bans and mutes, kept by the channel's host (keyed by room).
--
-- A ban is a lowercase mask `nick@server` with `*`/`?` wildcards (services::modes).
CREATE TABLE bans (
    room_id BIGINT NOT NULL,
    mask TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, mask)
);

-- A mute is of one member's handle, until `until_ms` (NULL: until unmuted).
CREATE TABLE mutes (
    room_id BIGINT NOT NULL,
    handle TEXT NOT NULL,
    until_ms BIGINT,
    set_by TEXT NOT NULL,
    set_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, handle)
);
