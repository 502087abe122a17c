DROP INDEX txns_created;
DROP INDEX received_txns_created;
DROP TABLE seen_requests;
ALTER TABLE destinations DROP COLUMN lease_until_ms;
ALTER TABLE destinations DROP COLUMN lease_owner;
