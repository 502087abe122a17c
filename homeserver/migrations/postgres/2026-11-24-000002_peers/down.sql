DROP TABLE directory_state;
DROP TABLE peers;
