//! Channels shared across servers: remote members (on the host) and mirrors (on member servers).

use diesel::prelude::*;

use super::models::EventRow;
use super::schema::{events, mirrors, remote_invites, remote_members};
use super::{per_backend, Conn};

/// A member of a hosted channel who lives on another server.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = remote_members)]
pub struct RemoteMemberRow {
    pub room_id: i64,
    pub handle: String,
    pub server: String,
    pub is_op: bool,
    pub is_voice: bool,
    pub joined_ms: i64,
}

/// A local copy of a channel hosted elsewhere.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mirrors)]
pub struct MirrorRow {
    pub room_id: i64,
    pub channel: String,
    pub host: String,
    pub host_seq: i64,
    pub topic: String,
    pub modes: String,
    pub members: i64,
}

/// Adds a remote member.
pub fn add_remote_member(conn: &mut Conn, row: &RemoteMemberRow) -> QueryResult<()> {
    diesel::insert_into(remote_members::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Removes a remote member.
pub fn remove_remote_member(conn: &mut Conn, room_id: i64, handle: &str) -> QueryResult<()> {
    diesel::delete(remote_members::table.find((room_id, handle)))
        .execute(conn)
        .map(drop)
}

/// A remote member's row.
pub fn remote_member(
    conn: &mut Conn,
    room_id: i64,
    handle: &str,
) -> QueryResult<Option<RemoteMemberRow>> {
    remote_members::table
        .find((room_id, handle))
        .select(RemoteMemberRow::as_select())
        .first(conn)
        .optional()
}

/// Sets a remote member's operator and voice flags.
pub fn set_remote_member_modes(
    conn: &mut Conn,
    room_id: i64,
    handle: &str,
    is_op: bool,
    is_voice: bool,
) -> QueryResult<()> {
    diesel::update(remote_members::table.find((room_id, handle)))
        .set((
            remote_members::is_op.eq(is_op),
            remote_members::is_voice.eq(is_voice),
        ))
        .execute(conn)
        .map(drop)
}

/// Remote members of a channel.
pub fn remote_members(conn: &mut Conn, room_id: i64) -> QueryResult<Vec<RemoteMemberRow>> {
    remote_members::table
        .filter(remote_members::room_id.eq(room_id))
        .order(remote_members::handle.asc())
        .select(RemoteMemberRow::as_select())
        .load(conn)
}

/// How many remote members a channel has.
pub fn remote_member_count(conn: &mut Conn, room_id: i64) -> QueryResult<i64> {
    remote_members::table
        .filter(remote_members::room_id.eq(room_id))
        .count()
        .get_result(conn)
}

/// Renames a remote member of a channel (their server told us of a nick change); their modes
/// stay. `false` when `old` is not a member.
pub fn rename_remote_member(
    conn: &mut Conn,
    room_id: i64,
    old: &str,
    new: &str,
) -> QueryResult<bool> {
    let renamed = diesel::update(remote_members::table.find((room_id, old)))
        .set(remote_members::handle.eq(new))
        .execute(conn)?;
    Ok(renamed > 0)
}

/// Servers that have members in a channel.
pub fn member_servers(conn: &mut Conn, room_id: i64) -> QueryResult<Vec<String>> {
    super::rule_cache::servers(room_id, || {
        per_backend!(conn, |c| remote_members::table
            .filter(remote_members::room_id.eq(room_id))
            .select(remote_members::server)
            .distinct()
            .load::<String>(c))
        .map(Into::into)
    })
    .map(|servers| servers.to_vec())
}

/// The mirror of a channel (by its global `#name@host`).
pub fn mirror_by_channel(conn: &mut Conn, channel: &str) -> QueryResult<Option<MirrorRow>> {
    per_backend!(conn, |c| mirrors::table
        .filter(mirrors::channel.eq(channel))
        .select(MirrorRow::as_select())
        .first(c)
        .optional())
}

/// Creates a mirror.
pub fn insert_mirror(conn: &mut Conn, row: &MirrorRow) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(mirrors::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))
    .map(drop)
}

/// Records how far a mirror has got.
pub fn set_host_seq(conn: &mut Conn, room_id: i64, host_seq: i64) -> QueryResult<()> {
    diesel::update(mirrors::table.find(room_id))
        .set(mirrors::host_seq.eq(host_seq))
        .execute(conn)
        .map(drop)
}

/// Records a mirrored channel's topic, modes and member count as its host announced them.
pub fn set_mirror_state(
    conn: &mut Conn,
    room_id: i64,
    topic: &str,
    modes: &str,
    members: i64,
) -> QueryResult<()> {
    diesel::update(mirrors::table.find(room_id))
        .set((
            mirrors::topic.eq(topic),
            mirrors::modes.eq(modes),
            mirrors::members.eq(members),
        ))
        .execute(conn)
        .map(drop)
}

/// Removes a mirror that never received an envelope (its join was refused).
pub fn drop_unused_mirror(conn: &mut Conn, channel: &str) -> QueryResult<()> {
    diesel::delete(
        mirrors::table
            .filter(mirrors::channel.eq(channel))
            .filter(mirrors::host_seq.eq(0)),
    )
    .execute(conn)
    .map(drop)
}

/// Mirrors that some local user is in.
pub fn active_mirrors(conn: &mut Conn) -> QueryResult<Vec<MirrorRow>> {
    use super::schema::spans;
    mirrors::table
        .filter(diesel::dsl::exists(
            spans::table
                .filter(spans::room_id.eq(mirrors::room_id))
                .filter(spans::to_seq.eq(super::events::OPEN)),
        ))
        .select(MirrorRow::as_select())
        .load(conn)
}

/// Mirrors the user is in.
pub fn mirrors_of_user(conn: &mut Conn, user_id: &str) -> QueryResult<Vec<MirrorRow>> {
    use super::schema::spans;
    mirrors::table
        .inner_join(spans::table.on(spans::room_id.eq(mirrors::room_id)))
        .filter(spans::user_id.eq(user_id))
        .filter(spans::to_seq.eq(super::events::OPEN))
        .select(MirrorRow::as_select())
        .load(conn)
}

/// Events of a room after a room position, in order.
pub fn room_events_after(
    conn: &mut Conn,
    room_id: i64,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::room_seq.gt(after))
        // Erased events (deleted messages and their edits) are not served: their signed wire
        // form is gone. A member server that missed them skips their sequence numbers.
        .filter(events::deleted.eq(false))
        .order(events::room_seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}

/// The newest events of a room, oldest first (for a joiner's backfill).
pub fn room_tail(conn: &mut Conn, room_id: i64, limit: i64) -> QueryResult<Vec<EventRow>> {
    let mut rows: Vec<EventRow> = events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::deleted.eq(false))
        .order(events::room_seq.desc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)?;
    rows.reverse();
    Ok(rows)
}

/// Records an invitation of a user of another server past `+i` (a repeat refreshes it).
pub fn add_remote_invite(
    conn: &mut Conn,
    room_id: i64,
    handle: &str,
    by: &str,
    now_ms: i64,
) -> QueryResult<()> {
    diesel::delete(remote_invites::table.find((room_id, handle))).execute(conn)?;
    diesel::insert_into(remote_invites::table)
        .values((
            remote_invites::room_id.eq(room_id),
            remote_invites::handle.eq(handle),
            remote_invites::invited_by.eq(by),
            remote_invites::created_ms.eq(now_ms),
        ))
        .execute(conn)
        .map(drop)
}

/// Whether a user of another server holds an invitation.
pub fn has_remote_invite(conn: &mut Conn, room_id: i64, handle: &str) -> QueryResult<bool> {
    Ok(remote_invites::table
        .find((room_id, handle))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Uses up an invitation; `true` when there was one.
pub fn take_remote_invite(conn: &mut Conn, room_id: i64, handle: &str) -> QueryResult<bool> {
    Ok(diesel::delete(remote_invites::table.find((room_id, handle))).execute(conn)? > 0)
}
