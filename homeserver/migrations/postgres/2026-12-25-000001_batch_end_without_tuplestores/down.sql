-- Back to the batch's end of `2026-12-22-000002_batch_round_trips`: `unnest` in `FROM`.
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
