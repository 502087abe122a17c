-- Notifications (issue 18): made by a consumer of the writer's commits for mentions, replies,
-- invitations and direct messages; kept 30 days (pruned by a worker).
CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    is_read BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX notifications_user ON notifications (user_id, ts_ms);
CREATE UNIQUE INDEX notifications_once ON notifications (user_id, event_id);
CREATE INDEX notifications_age ON notifications (ts_ms);

-- A user's level for a channel (hosted here or a mirror), keyed by room: `all`, `mentions`
-- (the default, not stored) or `muted`.
CREATE TABLE notification_levels (
    user_id TEXT NOT NULL,
    room_id BIGINT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (user_id, room_id)
);
CREATE INDEX notification_levels_room ON notification_levels (room_id, level);
