DROP TABLE writer_turn;
