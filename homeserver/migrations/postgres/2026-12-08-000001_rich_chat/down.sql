DROP TABLE reactions;
DROP TABLE message_stats;
DROP INDEX events_reply_to;
DROP INDEX events_target;
ALTER TABLE events DROP COLUMN deleted;
