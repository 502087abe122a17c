-- Search (issue 19): a full-text index of messages, kept by triggers in the same transaction
-- as the events it covers.
--
-- An FTS5 table with external content (the `events` table, keyed by `seq`): it stores only the
-- index. Messages (`message`, `action`, `notice`) that are not deleted are indexed with their
-- current body: an edit rewrites the body (re-indexed), a delete erases it and sets `deleted`
-- (removed), rotation and channel deletion delete rows (removed). `remove_diacritics 0` so
-- that a word matches exactly what the highlights (computed in Rust) find.
CREATE VIRTUAL TABLE events_fts USING fts5(
    body,
    content = 'events',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 0'
);

-- A removed entry is taken out of the index's pages at once, not only marked deleted until a
-- merge: a deleted message's words must not stay in the file (issue 16: erased, not hidden).
INSERT INTO events_fts (events_fts, rank) VALUES ('secure-delete', 1);

INSERT INTO events_fts (rowid, body)
    SELECT seq, body FROM events
    WHERE kind IN ('message', 'action', 'notice') AND deleted = 0;

CREATE TRIGGER events_fts_insert AFTER INSERT ON events
    WHEN new.kind IN ('message', 'action', 'notice') AND new.deleted = 0
BEGIN
    INSERT INTO events_fts (rowid, body) VALUES (new.seq, new.body);
END;

CREATE TRIGGER events_fts_delete AFTER DELETE ON events
    WHEN old.kind IN ('message', 'action', 'notice') AND old.deleted = 0
BEGIN
    INSERT INTO events_fts (events_fts, rowid, body) VALUES ('delete', old.seq, old.body);
END;

-- One trigger for updates, so that the old entry goes before the new one comes (SQLite runs
-- the triggers of one statement in no order a migration should count on).
CREATE TRIGGER events_fts_update AFTER UPDATE OF body, deleted ON events
    WHEN old.kind IN ('message', 'action', 'notice')
BEGIN
    INSERT INTO events_fts (events_fts, rowid, body)
        SELECT 'delete', old.seq, old.body WHERE old.deleted = 0;
    INSERT INTO events_fts (rowid, body)
        SELECT new.seq, new.body WHERE new.deleted = 0;
END;
