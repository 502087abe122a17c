-- Hearth directory schema (SQLite). Timestamps are unix milliseconds (BIGINT) on the
-- directory's clock unless noted.

-- One row per server that ever registered: the record the directory checks registrations,
-- heartbeats and deregistrations against.
CREATE TABLE servers (
    name TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    -- The key on record: {"ed25519:…": {"key": "…"}} as registered.
    verify_keys TEXT NOT NULL,
    -- 'up' or 'gone'.
    status TEXT NOT NULL,
    -- `ts` of the last accepted registration (the server's clock): the replay guard.
    last_reg_ts BIGINT NOT NULL,
    -- Last registration or heartbeat; expiry counts from here.
    last_heartbeat_ms BIGINT NOT NULL,
    -- Registrations are refused (operator `servers ban`).
    banned BOOLEAN NOT NULL DEFAULT 0,
    -- The operator removed it: the next registration need not be signed by the key on record.
    released BOOLEAN NOT NULL DEFAULT 0,
    registered_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

-- The append-only log of accepted changes; `seq` is the pull cursor and the push cursor.
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    server_name TEXT NOT NULL,
    status TEXT NOT NULL,
    ts BIGINT NOT NULL,
    -- The DirectoryEntry exactly as served: JSON signed by the directory.
    entry TEXT NOT NULL
);
CREATE INDEX entries_server ON entries(server_name, seq);

-- Push state per peer (Lemmy-style cursor over `entries`): everything up to `acked_seq`
-- has been accepted by the peer; the rest is the durable queue.
CREATE TABLE peers (
    name TEXT PRIMARY KEY NOT NULL REFERENCES servers(name),
    acked_seq BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0,
    next_retry_ms BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    last_success_ms BIGINT
);

-- Small facts about this directory (e.g. the name its entries are signed as).
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
