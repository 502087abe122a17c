DROP TABLE mirrors;
DROP TABLE remote_members;
DROP INDEX events_room_room_seq;
ALTER TABLE events DROP COLUMN wire;
ALTER TABLE events DROP COLUMN room_seq;
ALTER TABLE rooms DROP COLUMN last_room_seq;
