//! Moderation rows (issue 18): a hosted channel's bans and mutes, keyed by room.

use diesel::prelude::*;

use super::schema::{bans, mutes};
use super::Conn;

/// A ban: a normalized mask (`services::modes::normalize_mask`).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = bans)]
pub struct BanRow {
    pub room_id: i64,
    pub mask: String,
    pub set_by: String,
    pub set_ms: i64,
}

/// A room's bans, oldest first.
pub fn bans_of(conn: &mut Conn, room_id: i64) -> QueryResult<Vec<BanRow>> {
    bans::table
        .filter(bans::room_id.eq(room_id))
        .order(bans::set_ms.asc())
        .select(BanRow::as_select())
        .load(conn)
}

/// Adds a ban (`false` when the mask was banned already).
pub fn add_ban(
    conn: &mut Conn,
    room_id: i64,
    mask: &str,
    set_by: &str,
    set_ms: i64,
) -> QueryResult<bool> {
    let exists = bans::table
        .find((room_id, mask))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(false);
    }
    diesel::insert_into(bans::table)
        .values((
            bans::room_id.eq(room_id),
            bans::mask.eq(mask),
            bans::set_by.eq(set_by),
            bans::set_ms.eq(set_ms),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Lifts a ban (`false` when there was none).
pub fn remove_ban(conn: &mut Conn, room_id: i64, mask: &str) -> QueryResult<bool> {
    Ok(diesel::delete(bans::table.find((room_id, mask))).execute(conn)? > 0)
}

/// Mutes `handle` (lowercase) until `until_ms` (`None`: until unmuted), replacing any mute.
pub fn mute(
    conn: &mut Conn,
    room_id: i64,
    handle: &str,
    until_ms: Option<i64>,
    set_by: &str,
    set_ms: i64,
) -> QueryResult<()> {
    diesel::delete(mutes::table.find((room_id, handle))).execute(conn)?;
    diesel::insert_into(mutes::table)
        .values((
            mutes::room_id.eq(room_id),
            mutes::handle.eq(handle),
            mutes::until_ms.eq(until_ms),
            mutes::set_by.eq(set_by),
            mutes::set_ms.eq(set_ms),
        ))
        .execute(conn)
        .map(drop)
}

/// Lifts a mute (`false` when there was none).
pub fn unmute(conn: &mut Conn, room_id: i64, handle: &str) -> QueryResult<bool> {
    Ok(diesel::delete(mutes::table.find((room_id, handle))).execute(conn)? > 0)
}

/// Whether `handle` (lowercase) is muted at `now_ms`. An expired mute is not (and is left for
/// the next mute or unmute to replace).
pub fn is_muted(conn: &mut Conn, room_id: i64, handle: &str, now_ms: i64) -> QueryResult<bool> {
    let until: Option<Option<i64>> = mutes::table
        .find((room_id, handle))
        .select(mutes::until_ms)
        .first(conn)
        .optional()?;
    Ok(match until {
        None => false,
        Some(None) => true,
        Some(Some(until)) => until > now_ms,
    })
}

/// Renames a mute when a member's handle changes.
pub fn rename(conn: &mut Conn, room_id: i64, old: &str, new: &str) -> QueryResult<()> {
    diesel::update(mutes::table.find((room_id, old)))
        .set(mutes::handle.eq(new))
        .execute(conn)
        .map(drop)
}

/// Deletes a room's bans and mutes (the channel was deleted).
pub fn erase_room(conn: &mut Conn, room_id: i64) -> QueryResult<()> {
    diesel::delete(bans::table.filter(bans::room_id.eq(room_id))).execute(conn)?;
    diesel::delete(mutes::table.filter(mutes::room_id.eq(room_id))).execute(conn)?;
    Ok(())
}
