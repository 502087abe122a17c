-- On a host: invitations of users of other servers past a channel's +i.
CREATE TABLE remote_invites (
    room_id BIGINT NOT NULL REFERENCES rooms(id),
    handle TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (room_id, handle)
);
