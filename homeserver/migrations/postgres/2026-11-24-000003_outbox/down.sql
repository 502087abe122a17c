DROP TABLE received_txns;
DROP TABLE destinations;
DROP TABLE outbox;
