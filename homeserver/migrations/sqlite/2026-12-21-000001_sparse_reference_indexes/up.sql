-- Most events are plain messages that edit, react to or answer nothing: their `target` and
-- `reply_to` are NULL. Indexing only the events that have one spares every plain send two
-- index insertions (issue 23), and the look-ups (`target = ?`, `reply_to = ?`) imply the
-- predicate, so they use these indexes as before.
DROP INDEX events_target;
CREATE INDEX events_target ON events (target) WHERE target IS NOT NULL;
DROP INDEX events_reply_to;
CREATE INDEX events_reply_to ON events (reply_to, seq) WHERE reply_to IS NOT NULL;
