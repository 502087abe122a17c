-- Postgres durability (issue 23): a batch's commit is made durable by a later synchronous
-- commit, the flusher's (`db::flusher`). That proves the batch is on disk only if Postgres did
-- not crash (or fail over) between the two: a crash loses the asynchronous commits not yet
-- flushed, and a confirmation on a connection opened afterwards would still succeed.
--
-- So the writer opens an era before its first batch on each connection it takes (and after a
-- failed flush): a row here, committed before any batch of the era. An unlogged table is
-- emptied by crash recovery and is empty on a promoted standby, while a clean shutdown keeps it
-- (and flushes every commit). The flusher's confirmation checks, in its synchronous
-- transaction, that the eras of the batches it confirms still have their rows: then nothing was
-- lost between their commits and its own, on any connection.
CREATE UNLOGGED TABLE writer_eras (
    instance BIGINT NOT NULL,
    era BIGINT NOT NULL,
    PRIMARY KEY (instance, era)
);

CREATE FUNCTION hearth_confirm(me bigint, eras bigint[]) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF (SELECT count(*) FROM writer_eras AS w WHERE w.instance = me AND w.era = ANY (eras))
        < (SELECT count(DISTINCT e) FROM unnest(eras) AS e) THEN
        RAISE EXCEPTION 'Postgres crashed or failed over since these commits: they may be lost'
            USING ERRCODE = 'HE001';
    END IF;
    PERFORM pg_logical_emit_message(true, 'hearth.flush', '');
END
$$;
