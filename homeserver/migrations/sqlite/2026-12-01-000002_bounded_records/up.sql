-- Several processes on one Postgres database: the one that holds a destination's lease sends
-- its transactions (one in flight per destination across processes), and the signatures of
-- accepted requests are remembered in the database (a replay is refused by every process).
ALTER TABLE destinations ADD COLUMN lease_owner TEXT;
ALTER TABLE destinations ADD COLUMN lease_until_ms BIGINT;
CREATE TABLE seen_requests (
    sig TEXT PRIMARY KEY NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX seen_requests_expiry ON seen_requests (expires_ms);
-- Idempotency records are kept for a bounded window and pruned by age.
CREATE INDEX received_txns_created ON received_txns (created_ms);
CREATE INDEX txns_created ON txns (created_ms);
