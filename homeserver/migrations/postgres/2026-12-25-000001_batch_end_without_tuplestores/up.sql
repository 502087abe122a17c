-- Postgres performance (issue 23): the batch's end no longer materialises its arrays.
--
-- A set-returning function in `FROM` (`unnest(a, b, …)`, which is one `unnest` per array) is
-- run by a function scan that copies each function's rows into a tuplestore of its own, and
-- each tuplestore starts with a 16 kB array: sixteen of them per batch. Freeing them at the end
-- of the statement shrank the writer backend's heap (glibc returns a free top of the heap past
-- 128 kB to the kernel) and the next batch grew it again: about 2,700 `brk` calls and 11,000
-- page faults a second in the writer's backend at 16 senders, a tenth of its CPU
-- (BENCHMARKS.md, "Postgres, thirteenth round"). In the select list the same `unnest` calls run
-- in lockstep (a `ProjectSet`, all arrays have the batch's length) and store nothing. The
-- writer calls this function and `hearth_take_turn` in a select list too (`db::batch_end`,
-- `db::backend::take_turn`), for the same reason: a function in `FROM` stores its one row in
-- a tuplestore as well.
CREATE OR REPLACE FUNCTION hearth_end_batch(
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
        SELECT unnest(e_seq), unnest(e_id), unnest(e_room_id), unnest(e_ts_ms),
            unnest(e_sender), unnest(e_sender_id), unnest(e_recipient), unnest(e_kind),
            unnest(e_body), unnest(e_meta), unnest(e_reply_to), unnest(e_target),
            unnest(e_room_seq), unnest(e_wire), unnest(e_attachments),
            unnest(e_search_words)::tsvector;
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
