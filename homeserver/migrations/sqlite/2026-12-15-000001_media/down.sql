DROP TABLE media_refs;
DROP TABLE media;
ALTER TABLE events DROP COLUMN attachments;
