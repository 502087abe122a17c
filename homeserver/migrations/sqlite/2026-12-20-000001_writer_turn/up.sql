-- Postgres performance (issue 23): the row Postgres writers take in turn (see the Postgres
-- migration of the same name). A SQLite database has one writer, `BEGIN IMMEDIATE` orders it,
-- and this table is never read; it exists so both backends have the same tables.
CREATE TABLE writer_turn (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    instance BIGINT NOT NULL,
    previous BIGINT NOT NULL,
    generation BIGINT NOT NULL
);
INSERT INTO writer_turn (id, instance, previous, generation) VALUES (1, 0, 0, 0);
