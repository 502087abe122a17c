DROP TABLE invite_links;
