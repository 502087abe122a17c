-- A mirror shows its channel's topic, modes and member count as the host last announced them
-- (the `state` of the host's envelopes), so listing a user's channels asks no other server.
ALTER TABLE mirrors ADD COLUMN topic TEXT NOT NULL DEFAULT '';
ALTER TABLE mirrors ADD COLUMN modes TEXT NOT NULL DEFAULT '';
ALTER TABLE mirrors ADD COLUMN members BIGINT NOT NULL DEFAULT 0;
