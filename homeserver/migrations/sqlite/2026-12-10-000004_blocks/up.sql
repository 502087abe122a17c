-- Blocks (issue 18): a user of this server refuses direct messages from `blocked` (a handle,
-- lowercase `nick@server`, of any server).
CREATE TABLE blocks (
    user_id TEXT NOT NULL,
    blocked TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked)
);
