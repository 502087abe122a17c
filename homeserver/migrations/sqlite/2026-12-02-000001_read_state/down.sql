DROP TABLE profiles;
DROP INDEX read_markers_reader;
DROP TABLE read_markers;
