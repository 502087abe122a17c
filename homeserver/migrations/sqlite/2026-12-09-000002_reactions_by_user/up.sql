-- A reaction belongs to a user, not to a nick: `reactor` is a local user's id (stable across
-- nick changes), or the handle of a user of another server (renamed when their nick event
-- arrives). Rows written before this keep the handle they were made under; lookups try the
-- user's id and current handle.
ALTER TABLE reactions RENAME COLUMN user_handle TO reactor;
CREATE INDEX reactions_reactor ON reactions (reactor);
