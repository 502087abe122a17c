-- Postgres performance (issue 23): a writer's batch ended with two round trips under the
-- writers' turn, the call of `hearth_end_batch` and the `COMMIT`, because the writer waited for
-- the call's answer (how many events each room's rotation removed) before committing. Now the
-- call and the `COMMIT` go in one message (`db::batch_end`): the call leaves its answer in the
-- session setting `hearth.ended`, tagged with the batch's number, and the next turn returns it
-- (`ended`), before the next batch needs it. A setting changed by a transaction that rolls back
-- goes back to its old value, so an answer is only ever one of a committed batch.
DROP FUNCTION hearth_take_turn(bigint, bigint, bigint[]);

CREATE FUNCTION hearth_take_turn(me bigint, block bigint, wanted bigint[],
    OUT previous bigint, OUT generation bigint, OUT reserved bigint,
    OUT room_ids bigint[], OUT event_counts bigint[], OUT last_room_seqs bigint[],
    OUT ended text)
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    UPDATE writer_turn AS t SET previous = t.instance, instance = me WHERE t.id = 1
        RETURNING t.previous, t.generation INTO previous, generation;
    IF previous IS DISTINCT FROM me THEN
        reserved := setval('events_seq_seq', nextval('events_seq_seq') + block - 1);
        IF cardinality(wanted) > 0 THEN
            SELECT array_agg(r.id), array_agg(r.event_count), array_agg(r.last_room_seq)
                INTO room_ids, event_counts, last_room_seqs
                FROM rooms AS r WHERE r.id = ANY (wanted);
        END IF;
    END IF;
    ended := current_setting('hearth.ended', true);
END
$$;
