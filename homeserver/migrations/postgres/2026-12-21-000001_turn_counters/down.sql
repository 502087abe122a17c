DROP FUNCTION hearth_room_counters(BIGINT[]);
