DROP INDEX events_target;
CREATE INDEX events_target ON events (target);
DROP INDEX events_reply_to;
CREATE INDEX events_reply_to ON events (reply_to, seq);
