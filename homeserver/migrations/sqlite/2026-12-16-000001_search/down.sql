DROP TRIGGER IF EXISTS events_fts_update;
DROP TRIGGER IF EXISTS events_fts_delete;
DROP TRIGGER IF EXISTS events_fts_insert;
DROP TABLE IF EXISTS events_fts;
