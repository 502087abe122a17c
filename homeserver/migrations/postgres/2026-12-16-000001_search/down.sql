DROP INDEX IF EXISTS events_body_search;
