-- Media (issue 17): uploads, their attachment to messages.
--
-- An event's `attachments` is a JSON array of media ids (NULL when it has none).
ALTER TABLE events ADD COLUMN attachments TEXT;

-- One row per upload (or per remote media cached here). The bytes are stored once per
-- content hash (`sha256`, lower-case hex) under DATA_DIR/media or in the bucket, whatever the
-- number of rows that name them. `uploader_id` is the local user who uploaded it (NULL for a
-- remote media); `uploader` their handle nick@server.
CREATE TABLE media (
    id TEXT PRIMARY KEY NOT NULL,
    origin TEXT NOT NULL,
    uploader TEXT NOT NULL,
    uploader_id TEXT,
    filename TEXT NOT NULL,
    size BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX media_sha256 ON media (sha256);
CREATE INDEX media_uploader ON media (uploader_id);

-- Which message shared which media in which room: who may download it (the room's members),
-- and which media no message refers to any more (retention).
CREATE TABLE media_refs (
    media_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    room_id BIGINT NOT NULL,
    PRIMARY KEY (media_id, event_id)
);
CREATE INDEX media_refs_event ON media_refs (event_id);
