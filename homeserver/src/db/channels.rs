//! Channels hosted here: their settings, members and invites.

use diesel::prelude::*;

use super::models::{ChannelRow, MemberRow};
use super::schema::{channels, invites, members, users};
use super::{per_backend, Conn};

/// The channel with this (lower-case, no `#`) name.
pub fn by_name(conn: &mut Conn, name: &str) -> QueryResult<Option<ChannelRow>> {
    super::rule_cache::channel(name, || {
        per_backend!(conn, |c| channels::table
            .filter(channels::name.eq(name))
            .select(ChannelRow::as_select())
            .first(c)
            .optional())
    })
}

/// Creates a channel.
pub fn insert(conn: &mut Conn, row: &ChannelRow) -> QueryResult<()> {
    diesel::insert_into(channels::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Saves a channel's topic, owner and modes.
pub fn update(conn: &mut Conn, row: &ChannelRow) -> QueryResult<()> {
    diesel::update(channels::table.find(row.room_id))
        .set(row)
        .execute(conn)
        .map(drop)
}

/// A member's row, when the user is in the channel.
pub fn member(conn: &mut Conn, room_id: i64, user_id: &str) -> QueryResult<Option<MemberRow>> {
    super::rule_cache::member(room_id, user_id, || {
        per_backend!(conn, |c| members::table
            .find((room_id, user_id))
            .select(MemberRow::as_select())
            .first(c)
            .optional())
    })
}

/// Adds a member.
pub fn add_member(conn: &mut Conn, row: &MemberRow) -> QueryResult<()> {
    diesel::insert_into(members::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// Removes a member.
pub fn remove_member(conn: &mut Conn, room_id: i64, user_id: &str) -> QueryResult<()> {
    diesel::delete(members::table.find((room_id, user_id)))
        .execute(conn)
        .map(drop)
}

/// Sets a member's operator and voice flags.
pub fn set_member_modes(
    conn: &mut Conn,
    room_id: i64,
    user_id: &str,
    is_op: bool,
    is_voice: bool,
) -> QueryResult<()> {
    diesel::update(members::table.find((room_id, user_id)))
        .set((members::is_op.eq(is_op), members::is_voice.eq(is_voice)))
        .execute(conn)
        .map(drop)
}

/// Number of members.
pub fn member_count(conn: &mut Conn, room_id: i64) -> QueryResult<i64> {
    members::table
        .filter(members::room_id.eq(room_id))
        .count()
        .get_result(conn)
}

/// Members with their current nicks, ordered by nick.
pub fn members_with_nicks(conn: &mut Conn, room_id: i64) -> QueryResult<Vec<(MemberRow, String)>> {
    members::table
        .inner_join(users::table)
        .filter(members::room_id.eq(room_id))
        .order(users::nick.asc())
        .select((MemberRow::as_select(), users::nick))
        .load(conn)
}

/// Channels the user is a member of.
pub fn of_user(conn: &mut Conn, user_id: &str) -> QueryResult<Vec<ChannelRow>> {
    channels::table
        .inner_join(members::table.on(members::room_id.eq(channels::room_id)))
        .filter(members::user_id.eq(user_id))
        .order(channels::name.asc())
        .select(ChannelRow::as_select())
        .load(conn)
}

/// Channels that are not secret.
pub fn public(conn: &mut Conn, limit: i64) -> QueryResult<Vec<ChannelRow>> {
    channels::table
        .filter(channels::mode_secret.eq(false))
        .order(channels::name.asc())
        .limit(limit)
        .select(ChannelRow::as_select())
        .load(conn)
}

/// Records an invitation past `+i`.
pub fn add_invite(
    conn: &mut Conn,
    room_id: i64,
    user_id: &str,
    by: &str,
    now_ms: i64,
) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(invites::table)
        .values((
            invites::room_id.eq(room_id),
            invites::user_id.eq(user_id),
            invites::invited_by.eq(by),
            invites::created_ms.eq(now_ms),
        ))
        .on_conflict((invites::room_id, invites::user_id))
        .do_update()
        .set((invites::invited_by.eq(by), invites::created_ms.eq(now_ms)))
        .execute(c))
    .map(drop)
}

/// Whether the user holds an invitation.
pub fn has_invite(conn: &mut Conn, room_id: i64, user_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(invites::table.find((room_id, user_id)))).get_result(conn)
}

/// Removes an invitation (it is used up by joining).
pub fn remove_invite(conn: &mut Conn, room_id: i64, user_id: &str) -> QueryResult<()> {
    diesel::delete(invites::table.find((room_id, user_id)))
        .execute(conn)
        .map(drop)
}
