-- Postgres performance (issue 23): `events.room_id` keeps no foreign key on Postgres.
--
-- Postgres checks a foreign key per inserted row with a query that takes a share lock on the
-- referenced row: for every event, a lock on its room's row, which the writer's batch then
-- updates anyway (its counters). Under load that was a quarter of the time of each batch's
-- `INSERT`, spent while the writer holds the writers' turn and no other process can write
-- (BENCHMARKS.md, "Postgres, seventh round"). What the key guarded holds without it: rooms are
-- never deleted, and the writer only appends an event to a room it read or created in the
-- same transaction (`db::events::ensure_room`, `room_id`). The other tables keep theirs.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_room_id_fkey;
