-- Known federation peers: from the directory (signed entries) or listed by hand in PEERS.
CREATE TABLE peers (
    server_name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    verify_keys TEXT NOT NULL,          -- JSON {"ed25519:…": {"key": "…"}}
    status TEXT NOT NULL,               -- 'up' or 'gone'
    source TEXT NOT NULL,               -- 'directory' or 'config'
    directory_seq BIGINT NOT NULL,      -- seq of the directory entry applied (0 for config)
    updated_ms BIGINT NOT NULL
);

-- Single-row state of the link to the directory.
CREATE TABLE directory_state (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    pull_cursor BIGINT NOT NULL,
    last_pull_ms BIGINT,
    last_error TEXT
);
