-- Postgres performance (issue 23): whose turn it is to write.
--
-- Every write transaction of every homeserver process sharing the database starts by updating
-- this one row (`db::backend::take_turn`): the row lock orders the writers (events commit in
-- `seq` order, so a cursor never skips a smaller `seq` committed later), as the advisory lock
-- did, and the row says which process wrote last. A process whose previous turn was also the
-- last one knows nothing changed under it, and may keep what it cached (rooms' recipients and
-- counters, channels' rules) from one batch to the next; after another process's turn it drops
-- them. `instance` is the random id of the process (`db::Db`), `previous` the one before.
-- `generation` counts the write transactions that changed what a send checks (channels,
-- memberships, bans, mutes, delivery windows: anything but sends and cursor moves): while it
-- has not moved, another process's turn changed only what sends change (the log and room
-- counters), and the checks a process cached still hold.
CREATE TABLE writer_turn (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    instance BIGINT NOT NULL,
    previous BIGINT NOT NULL,
    generation BIGINT NOT NULL
);
INSERT INTO writer_turn (id, instance, previous, generation) VALUES (1, 0, 0, 0);
