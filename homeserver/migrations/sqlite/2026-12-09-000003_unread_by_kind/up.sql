-- Unread counts (GET /api/v1/conversations) read a room's messages after the reader's marker:
-- with this index they read those messages alone, not the joins, reactions and edits between
-- them, so a big channel costs no more than a small one (BENCHMARKS.md, "Unread counts").
CREATE INDEX events_room_kind_seq ON events (room_id, kind, seq);
