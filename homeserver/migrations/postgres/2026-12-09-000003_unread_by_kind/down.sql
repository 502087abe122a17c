DROP INDEX events_room_kind_seq;
