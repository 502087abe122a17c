-- Durable federation outbox: signed events waiting for a destination's acknowledgement.
-- A row is deleted once its destination acknowledged the transaction that carried it.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    destination TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX outbox_destination ON outbox(destination, id);

-- Per-destination delivery state (Lemmy-style, persisted so a restart keeps the backoff).
CREATE TABLE destinations (
    server_name TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    next_retry_ms BIGINT NOT NULL DEFAULT 0,
    last_attempt_ms BIGINT,
    last_success_ms BIGINT,
    last_error TEXT
);

-- Transactions received, so that a repeated one is acknowledged again and applied once.
CREATE TABLE received_txns (
    origin TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    response TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (origin, txn_id)
);
