DROP FUNCTION hearth_take_turn(bigint, bigint, bigint[]);

CREATE FUNCTION hearth_take_turn(me bigint, block bigint, wanted bigint[],
    OUT previous bigint, OUT generation bigint, OUT reserved bigint,
    OUT room_ids bigint[], OUT event_counts bigint[], OUT last_room_seqs bigint[])
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    UPDATE writer_turn AS t SET previous = t.instance, instance = me WHERE t.id = 1
        RETURNING t.previous, t.generation INTO previous, generation;
    IF previous IS DISTINCT FROM me THEN
        reserved := setval(pg_get_serial_sequence('events', 'seq'),
            nextval(pg_get_serial_sequence('events', 'seq')) + block - 1);
        IF cardinality(wanted) > 0 THEN
            SELECT array_agg(r.id), array_agg(r.event_count), array_agg(r.last_room_seq)
                INTO room_ids, event_counts, last_room_seqs
                FROM rooms AS r WHERE r.id = ANY (wanted);
        END IF;
    END IF;
END
$$;
