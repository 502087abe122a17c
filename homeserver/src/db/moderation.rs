//! Moderation rows (issue 18): a hosted channel's bans, mutes and invite links, keyed by room;
//! users' blocks.

use diesel::prelude::*;

use super::models::ChannelRow;
use super::schema::{bans, blocks, channels, invite_links, mutes};
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
    super::rule_cache::bans(room_id, || {
        bans::table
            .filter(bans::room_id.eq(room_id))
            .order(bans::set_ms.asc())
            .select(BanRow::as_select())
            .load::<BanRow>(conn)
            .map(Into::into)
    })
    .map(|bans| bans.to_vec())
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
    let until: Option<Option<i64>> = super::rule_cache::mute(room_id, handle, || {
        mutes::table
            .find((room_id, handle))
            .select(mutes::until_ms)
            .first(conn)
            .optional()
    })?;
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
    diesel::delete(invite_links::table.filter(invite_links::room_id.eq(room_id))).execute(conn)?;
    Ok(())
}

/// An invite link.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invite_links)]
pub struct InviteLinkRow {
    pub code: String,
    pub room_id: i64,
    pub created_by: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub max_uses: Option<i64>,
    pub uses: i64,
}

/// Stores a new invite link.
pub fn add_link(conn: &mut Conn, row: &InviteLinkRow) -> QueryResult<()> {
    diesel::insert_into(invite_links::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The invite link with this code.
pub fn link(conn: &mut Conn, code: &str) -> QueryResult<Option<InviteLinkRow>> {
    invite_links::table
        .find(code)
        .select(InviteLinkRow::as_select())
        .first(conn)
        .optional()
}

/// Counts one use of a link, only while it has uses left: `false` when it had none. One
/// statement, so two accepts can never both take the last use.
pub fn use_link(conn: &mut Conn, code: &str) -> QueryResult<bool> {
    let updated = diesel::update(
        invite_links::table.find(code).filter(
            invite_links::max_uses
                .is_null()
                .or(invite_links::uses.lt(invite_links::max_uses.assume_not_null())),
        ),
    )
    .set(invite_links::uses.eq(invite_links::uses + 1))
    .execute(conn)?;
    Ok(updated == 1)
}

/// Revokes (deletes) a link.
pub fn remove_link(conn: &mut Conn, code: &str) -> QueryResult<bool> {
    Ok(diesel::delete(invite_links::table.find(code)).execute(conn)? > 0)
}

/// The channel hosted here whose room this is (an invite link's channel).
pub fn channel_by_room(conn: &mut Conn, room_id: i64) -> QueryResult<Option<ChannelRow>> {
    channels::table
        .filter(channels::room_id.eq(room_id))
        .select(ChannelRow::as_select())
        .first(conn)
        .optional()
}

/// Blocks `blocked` (a lowercase handle) for `user_id` (`false` when already blocked).
pub fn add_block(conn: &mut Conn, user_id: &str, blocked: &str, ts_ms: i64) -> QueryResult<bool> {
    if is_blocked(conn, user_id, blocked)? {
        return Ok(false);
    }
    diesel::insert_into(blocks::table)
        .values((
            blocks::user_id.eq(user_id),
            blocks::blocked.eq(blocked),
            blocks::ts_ms.eq(ts_ms),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Lifts a block (`false` when there was none).
pub fn remove_block(conn: &mut Conn, user_id: &str, blocked: &str) -> QueryResult<bool> {
    Ok(diesel::delete(blocks::table.find((user_id, blocked))).execute(conn)? > 0)
}

/// Whether `user_id` blocked `handle` (lowercase).
pub fn is_blocked(conn: &mut Conn, user_id: &str, handle: &str) -> QueryResult<bool> {
    Ok(blocks::table
        .find((user_id, handle))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// A user's blocks, oldest first: `(handle, ts_ms)`.
pub fn blocks_of(conn: &mut Conn, user_id: &str) -> QueryResult<Vec<(String, i64)>> {
    blocks::table
        .filter(blocks::user_id.eq(user_id))
        .order(blocks::ts_ms.asc())
        .select((blocks::blocked, blocks::ts_ms))
        .load(conn)
}
