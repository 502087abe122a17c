-- The writers' turn hands the next writer the counters of the rooms it had cached, as the
-- previous holder committed them (`db::backend::take_turn`). A VOLATILE function takes a new
-- snapshot for its query, after the turn's row lock was granted; a subquery of the same
-- statement would still see the counters as of before the wait.
CREATE FUNCTION hearth_room_counters(ids BIGINT[]) RETURNS BIGINT[] VOLATILE LANGUAGE sql AS $$
    SELECT coalesce(array_agg(k.v ORDER BY r.id, k.i), '{}')
    FROM rooms r
    CROSS JOIN LATERAL unnest(ARRAY[r.id, r.event_count, r.last_room_seq]) WITH ORDINALITY AS k(v, i)
    WHERE r.id = ANY(ids)
$$;
