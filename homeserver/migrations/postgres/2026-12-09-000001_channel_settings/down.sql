DROP TABLE pins;
DROP TABLE channel_settings;
