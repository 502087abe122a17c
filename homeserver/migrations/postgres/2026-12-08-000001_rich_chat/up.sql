-- Rich chat: edits, deletes, reactions and threads.
--
-- A message's row keeps its latest body and meta (an edit updates them; the edit event keeps
-- its own). `deleted` marks an erased row: a deleted message (body, meta and signed wire form
-- erased) and the edits of a deleted message (their bodies erased too).
ALTER TABLE events ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT FALSE;
-- Edits and reactions of a message (erasure on delete), replies of a root (threads).
CREATE INDEX events_target ON events (target);
CREATE INDEX events_reply_to ON events (reply_to, seq);

-- The counters of a message that was edited or answered (no row for the others): read with a
-- history page by message id.
CREATE TABLE message_stats (
    message_id TEXT PRIMARY KEY NOT NULL,
    edit_count BIGINT NOT NULL DEFAULT 0,
    edited_ms BIGINT,
    reply_count BIGINT NOT NULL DEFAULT 0,
    last_reply_ms BIGINT
);

-- Current reactions: one per user, emoji and message; withdrawing one deletes its row.
CREATE TABLE reactions (
    message_id TEXT NOT NULL,
    user_handle TEXT NOT NULL,
    emoji TEXT NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    ts_ms BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_handle, emoji)
);
