-- Server admins and disabled accounts (issue 18; `homeserver admin …`).
CREATE TABLE account_flags (
    user_id TEXT PRIMARY KEY NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE
);

-- Reports of messages: the review queue of the server's admins and of the channel's operators.
-- `room_id` is the message's room; `channel` its channel's local name when it is a channel
-- hosted here (operators see those), else NULL.
CREATE TABLE reports (
    id TEXT PRIMARY KEY NOT NULL,
    reporter_id TEXT NOT NULL,
    reporter TEXT NOT NULL,
    event_id TEXT NOT NULL,
    room_id BIGINT NOT NULL,
    channel TEXT,
    sender TEXT NOT NULL,
    reason TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    status TEXT NOT NULL,
    resolved_by TEXT,
    resolved_ms BIGINT
);
CREATE INDEX reports_channel ON reports (channel, ts_ms);
