-- Search (issue 19): a full-text index of messages.
--
-- A GIN expression index over the body of messages (`message`, `action`, `notice`) that are
-- not deleted; Postgres keeps it in the same transaction as the rows, so an edit (which
-- rewrites the body) re-indexes, and a delete (which erases the body and sets `deleted`),
-- rotation and channel deletion remove the entry. The `simple` configuration: no stemming
-- and no stop words, so a word matches what the highlights (computed in Rust) find.
-- `db::search` uses exactly this expression and predicate.
CREATE INDEX events_body_search ON events
    USING GIN (to_tsvector('simple'::regconfig, body))
    WHERE kind IN ('message', 'action', 'notice') AND NOT deleted;
