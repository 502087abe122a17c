DROP INDEX reactions_reactor;
ALTER TABLE reactions RENAME COLUMN reactor TO user_handle;
