-- A generated column cannot be made again in place: the column is rebuilt from the bodies.
DROP INDEX IF EXISTS events_search_words;
ALTER TABLE events DROP COLUMN search_words;
ALTER TABLE events ADD COLUMN search_words tsvector
    GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, hearth_search_text(body))) STORED;
CREATE INDEX events_search_words ON events USING GIN (search_words)
    WHERE kind IN ('message', 'action', 'notice') AND NOT deleted;
