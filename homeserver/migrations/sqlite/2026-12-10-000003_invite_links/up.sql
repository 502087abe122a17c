-- Invite links (issue 18): a code that lets its holder join a channel hosted here past +i
-- and +k (never past a ban), until it expires or is used `max_uses` times; revoking deletes it.
CREATE TABLE invite_links (
    code TEXT PRIMARY KEY NOT NULL,
    room_id BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    max_uses BIGINT,
    uses BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX invite_links_room ON invite_links (room_id);
