-- Postgres performance (issue 23): a writer's batch holds the writers' turn (`writer_turn`)
-- from the moment it takes it until its commit, and every round trip in between is time no
-- other process can write. Each statement was one: taking the turn, reading the counters of
-- the rooms it appends to (after another process's turn), the events' `INSERT`, then per room
-- the rotation's `DELETE` and the counters' `UPDATE`. These two functions do the same
-- statements in two calls (`db::backend::take_turn`, `db::room_counters::end_batch`).
--
-- Both are VOLATILE plpgsql: each statement in them takes a fresh snapshot, so the counters
-- read after the turn's `UPDATE` (which waits for the previous holder's commit) see that
-- commit, as a separate statement did; and the rotation sees the rows the `INSERT` before it
-- added.

-- Takes the turn for `me` and says who held it last and the generation of what sends check.
-- When another process (or tool) held it, also reserves a fresh block of `block` event numbers
-- (`reserved`, the last of them) and reads the counters of the rooms in `wanted` (the rooms this
-- process appended to recently), returned as three arrays in one order.
CREATE FUNCTION hearth_take_turn(me bigint, block bigint, wanted bigint[],
    OUT previous bigint, OUT generation bigint, OUT reserved bigint,
    OUT room_ids bigint[], OUT event_counts bigint[], OUT last_room_seqs bigint[])
-- Without it Postgres plans the counters' read again on every call (its plan for an array of
-- known length looks cheaper than the generic one): 40 µs inside the turn each time.
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

-- Ends a batch: inserts its kept events (one array per column, as `db::appends` does with
-- `unnest`; `e_search_words` is `tsvector` text, `db::search::stored_words`), then for each
-- room whose counters changed (`rooms`, `counts`, `last_seqs`), drops its oldest events beyond `max_history` (starting at `floors`, the rotation's last cut) and
-- writes its counters, less what went. Returns, per room in the order given, how many events
-- went (`removed`) and the highest `seq` that went (`cut`, NULL when none did).
CREATE FUNCTION hearth_end_batch(
    e_seq bigint[], e_id text[], e_room_id bigint[], e_ts_ms bigint[], e_sender text[],
    e_sender_id text[], e_recipient text[], e_kind text[], e_body text[], e_meta text[],
    e_reply_to text[], e_target text[], e_room_seq bigint[], e_wire text[], e_attachments text[],
    e_search_words text[],
    rooms bigint[], counts bigint[], last_seqs bigint[], max_histories bigint[], floors bigint[],
    OUT removed bigint[], OUT cut bigint[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    i integer;
    gone bigint;
    last_gone bigint;
BEGIN
    IF cardinality(e_seq) > 0 THEN
        INSERT INTO events (seq, id, room_id, ts_ms, sender, sender_id, recipient, kind, body,
            meta, reply_to, target, room_seq, wire, attachments, search_words)
        SELECT * FROM unnest(e_seq, e_id, e_room_id, e_ts_ms, e_sender, e_sender_id,
            e_recipient, e_kind, e_body, e_meta, e_reply_to, e_target, e_room_seq, e_wire,
            e_attachments, e_search_words::tsvector[]);
    END IF;
    removed := '{}';
    cut := '{}';
    FOR i IN 1 .. coalesce(cardinality(rooms), 0) LOOP
        gone := 0;
        last_gone := NULL;
        IF counts[i] > max_histories[i] THEN
            WITH g AS (
                DELETE FROM events AS e WHERE e.room_id = rooms[i] AND e.seq >= floors[i]
                    AND e.seq <= (SELECT o.seq FROM events AS o
                        WHERE o.room_id = rooms[i] AND o.seq >= floors[i]
                        ORDER BY o.seq LIMIT 1 OFFSET counts[i] - max_histories[i] - 1)
                RETURNING e.seq)
            SELECT count(*), max(g.seq) INTO gone, last_gone FROM g;
        END IF;
        UPDATE rooms AS r SET event_count = counts[i] - gone, last_room_seq = last_seqs[i]
            WHERE r.id = rooms[i];
        removed := removed || gone;
        cut := cut || last_gone;
    END LOOP;
END
$$;
