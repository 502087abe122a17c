DROP TABLE remote_invites;
