-- Postgres only (a function the writers' turn calls); SQLite has one writer.
SELECT 1;
