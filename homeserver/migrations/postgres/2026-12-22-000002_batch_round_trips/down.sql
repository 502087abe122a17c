DROP FUNCTION IF EXISTS hearth_end_batch(bigint[], text[], bigint[], bigint[], text[], text[], text[], text[], text[], text[], text[], text[], bigint[], text[], text[], text[], bigint[], bigint[], bigint[], bigint[], bigint[]);
DROP FUNCTION IF EXISTS hearth_take_turn(bigint, bigint, bigint[]);
