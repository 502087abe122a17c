DROP TABLE meta;
DROP TABLE peers;
DROP TABLE entries;
DROP TABLE servers;
