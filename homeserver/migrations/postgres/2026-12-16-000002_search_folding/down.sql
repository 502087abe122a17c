DROP INDEX IF EXISTS events_search_words;
ALTER TABLE events DROP COLUMN IF EXISTS search_words;
DROP FUNCTION IF EXISTS hearth_search_text(text);
CREATE INDEX events_body_search ON events
    USING GIN (to_tsvector('simple'::regconfig, body))
    WHERE kind IN ('message', 'action', 'notice') AND NOT deleted;
