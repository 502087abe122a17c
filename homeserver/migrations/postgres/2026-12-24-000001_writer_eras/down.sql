DROP FUNCTION hearth_confirm(bigint, bigint[]);
DROP TABLE writer_eras;
